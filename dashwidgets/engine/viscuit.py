"""The VisCUIT service: UDIS subgroups of a version's embeddings and Summit neuron activation
scores, over per-split caches of every conv layer's per-channel spatial maxima (one batched pass
with hooks per version and split)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..audit.neurons import check_groups, neuron_scores
from ..audit.subgroups import Subgroups, discover_subgroups
from ..datasets.imageset import SPLITS
from ..models.activations import channel_maxima, check_conv_layers
from ..models.version import ModelVersion
from .context import DataContext
from .versions import VersionStore

_MAXIMA_BYTES = 1 << 30


class ViscuitService:
    """``subgroups`` cached per (version, split, k, method, ratio, seed) in ``"subgroups"``;
    spatial maxima per (version, split) in ``"neuron_maxima"`` (at most 1 GiB)."""

    def __init__(self, ctx: DataContext, store: VersionStore, inference, max_bytes: int = _MAXIMA_BYTES):
        self.ctx = ctx
        self.store = store
        self.inference = inference
        self.subgroup_cache = store.cache("subgroups", max_items=64)
        self.maxima_cache = store.cache("neuron_maxima", max_bytes=max_bytes)

    def subgroups(self, version, k: int | None, split: str | None, method: str, ratio: float, seed: int) -> Subgroups:
        ctx = self.ctx
        v = self.store.version(version)
        split = ctx.check_split(split)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        key = (split, k, method, ratio, int(seed))
        hit = self.subgroup_cache.get(v.id, key)
        if hit is not None:
            return hit
        ev = self.inference.evaluate(v, split)
        if len(ev.indices) < 2:
            raise ValueError(f"split {split!r} has {len(ev.indices)} images: too few to find subgroups")
        ds = ctx.dataset
        sg = discover_subgroups(
            ev.embedding, ev.labels, ev.pred, ev.indices, k=k, method=method, ratio=ratio, seed=int(seed),
            num_classes=ds.num_classes, classes=ds.classes,
            attributes={name: a[ev.indices] for name, a in ds.attributes.items()}, version=v.id, split=split,
        )
        return self.subgroup_cache.put(v.id, key, sg)

    def maxima(self, version: ModelVersion | str, split: str) -> dict[str, np.ndarray]:
        """``layer -> float32 [M, C]`` spatial maxima of every conv layer over ``split``'s images."""
        ctx = self.ctx
        v = self.store.version(version)
        hit = self.maxima_cache.get(v.id, split)
        if hit is not None:
            return hit
        model = self.store.model(v)
        layers = check_conv_layers(model, None)
        out = channel_maxima(model, ctx.inputs_t, ctx.dataset.indices(split), ctx.device, layers, ctx.eval_batch_size)
        return self.maxima_cache.put(v.id, split, out)

    def neuron_scores(
        self, version, groups: Mapping[str, Sequence[int] | np.ndarray], layers: Sequence[str] | None, fraction: float
    ) -> pd.DataFrame:
        ds = self.ctx.dataset
        v = self.store.version(version)
        layers = check_conv_layers(self.store.model(v), layers)
        groups = check_groups(groups, len(ds), what="image indices")
        codes = ds.split_codes()
        needed = sorted({int(c) for idx in groups.values() for c in np.unique(codes[idx])})
        pos = np.full(len(ds), -1, np.int64)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
        start = 0
        for c in needed:
            split = SPLITS[c]
            idx = ds.indices(split)
            pos[idx] = np.arange(start, start + len(idx))
            start += len(idx)
            m = self.maxima(v, split)
            for name in layers:
                parts[name].append(m[name])
        maxima = {name: np.concatenate(p) if len(p) > 1 else p[0] for name, p in parts.items()}
        return neuron_scores(maxima, {name: pos[idx] for name, idx in groups.items()}, fraction)
