"""The VisCUIT service: UDIS subgroups of a version's embeddings, Summit neuron activation scores
and neuron concept patches, over per-split caches of every conv layer's per-channel spatial maxima
(one batched pass with hooks per version and split, on the engine's executor: Ray runs its
batches like evaluate's), and neuron clustering in a background job. Concept patches (a masked
pass over a few top images per neuron) and the clustering (training) stay local.

Workspace part (``viscuit/``): the maxima of each (version, split) as ``maxima_<v>_<split>.npz``
and each version's last neuron clustering as ``clusters_<v>.json``, so a reopened engine neither
repeats the hooked pass nor the clustering. Subgroups and concept patches are recomputed from
those (a k-means on cached embeddings; one small masked pass). A file that cannot be read is named
in the workspace errors and recomputed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..audit.concepts import (
    Concepts,
    check_counts,
    check_neurons,
    concept_patches,
    masked,
    top_activating,
)
from ..audit.neuron_clusters import NeuronClusters, check_settings, cluster_neurons
from ..audit.neurons import check_groups, neuron_scores
from ..audit.subgroups import Subgroups, discover_subgroups
from ..datasets.imageset import SPLITS
from ..models.activations import channel_maxima, check_conv_layers
from ..models.layers import get_layer
from ..models.version import ModelVersion
from ..runtime.executor import LocalExecutor
from ..runtime.jobs import Job
from .context import DataContext
from .inference import BatchTask
from .versions import VersionStore
from .workspace import atomic_write_bytes, atomic_write_json

_MAXIMA_BYTES = 1 << 30


class MaximaTask(BatchTask):
    """``channel_maxima`` (every conv layer's per-channel spatial maxima, the neuron scores'
    input) as a batch task: the local pass's batches, so CPU results are bitwise equal."""

    def __init__(self, ctx: DataContext, model, idx: np.ndarray, layers: list[str], device: str):
        super().__init__(ctx, model, idx, ctx.eval_batch_size, device)
        self.layers = list(layers)

    def run(self, bi: np.ndarray, start: int) -> dict[str, np.ndarray]:
        m = channel_maxima(self._model, self._inputs, bi, self._dev, self.layers, self.batch_size)
        return {f"maxima/{name}": m[name] for name in self.layers}


class ViscuitService:
    """``subgroups`` cached per (version, split, k, method, ratio, seed) in ``"subgroups"``;
    spatial maxima per (version, split) in ``"neuron_maxima"`` (at most 1 GiB)."""

    def __init__(self, ctx: DataContext, store: VersionStore, inference, max_bytes: int = _MAXIMA_BYTES):
        self.ctx = ctx
        self.store = store
        self.inference = inference
        self.subgroup_cache = store.cache("subgroups", max_items=64)
        self.maxima_cache = store.cache("neuron_maxima", max_bytes=max_bytes, on_discard=self._delete_files)
        self.concept_cache = store.cache("concepts", max_items=4096)
        self.cluster_cache = store.cache("neuron_clusters", max_items=64)
        if store.workspace is not None:
            self._restore_clusters()

    # ---------------------------------------------------------------- files
    def _path(self, name: str):
        return self.store.workspace.path("viscuit", name)

    def _delete_files(self, vid: str) -> None:
        if self.store.workspace is not None:
            for split in SPLITS:
                self._path(f"maxima_{vid}_{split}.npz").unlink(missing_ok=True)
            self._path(f"clusters_{vid}.json").unlink(missing_ok=True)

    def _load_maxima(self, vid: str, split: str, layers: list[str]) -> dict[str, np.ndarray] | None:
        path = self._path(f"maxima_{vid}_{split}.npz")
        if not path.exists():
            return None
        n = len(self.ctx.dataset.indices(split))
        try:
            with np.load(path, allow_pickle=False) as z:
                out = {name: z[name] for name in layers}
            if any(a.ndim != 2 or len(a) != n for a in out.values()):
                raise ValueError(f"arrays do not have {n} rows, one per {split} image")
            return out
        except Exception as e:  # noqa: BLE001 - a damaged cache file is recomputed, never fatal
            self.store.workspace_errors.append(f"corrupted neuron maxima {path}: {str(e)[:200]}; recomputed")
            return None

    def _save_maxima(self, vid: str, split: str, maxima: dict[str, np.ndarray]) -> None:
        buf = io.BytesIO()
        np.savez(buf, **maxima)
        path = self._path(f"maxima_{vid}_{split}.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())

    def _restore_clusters(self) -> None:
        for v in self.store.versions:
            path = self._path(f"clusters_{v.id}.json")
            if not path.exists():
                continue
            try:
                self.cluster_cache.put(v.id, "last", _clusters_from_json(json.loads(path.read_text())))
            except Exception as e:  # noqa: BLE001 - see _load_maxima
                self.store.workspace_errors.append(f"corrupted neuron clusters {path}: {str(e)[:200]}; cluster again")

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
        ws = self.store.workspace
        out = self._load_maxima(v.id, split, layers) if ws is not None else None
        if out is None:
            idx, executor = ctx.dataset.indices(split), self.inference.executor
            if isinstance(executor, LocalExecutor) or not len(idx):
                out = channel_maxima(model, ctx.inputs_t, idx, ctx.device, layers, ctx.eval_batch_size)
            else:  # the hooked pass's batches on the executor's workers (see InferenceService)
                got = executor.map_batches(MaximaTask(ctx, model, idx, layers, ctx.device.type),
                                           gpu=ctx.device.type == "cuda")
                out = {name: got[f"maxima/{name}"] for name in layers}
            if ws is not None and self.store.alive(v.id):
                self._save_maxima(v.id, split, out)
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

    # ---------------------------------------------------------------- concepts
    @staticmethod
    def _neurons(model, neurons) -> list[tuple[str, int]]:
        convs = check_conv_layers(model, None)
        return check_neurons(neurons, {name: get_layer(model, name).out_channels for name in convs})

    def concepts(self, version, neurons, n_images, n_patches, top, split, seed) -> dict[tuple[str, int], Concepts]:
        """Concept patches of each ``(layer, channel)`` in ``neurons``; those not cached are
        computed together in one batched pass."""
        ctx = self.ctx
        v = self.store.version(version)
        model = self.store.model(v)
        neurons = self._neurons(model, neurons)
        n_images, n_patches, top = check_counts(n_images, n_patches, top)
        split = ctx.check_split(split)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        params = (n_images, n_patches, top, split, int(seed))
        out = {n: self.concept_cache.get(v.id, (*n, *params)) for n in neurons}
        missing = [n for n, hit in out.items() if hit is None]
        if missing:
            splits = SPLITS if split is None else (split,)
            index = np.concatenate([ctx.dataset.indices(s) for s in splits])
            if not len(index):
                raise ValueError(f"split {split!r} has no images to find concept patches in")
            maxima = [self.maxima(v, s) for s in splits]
            top_images = {
                (layer, ch): top_activating(np.concatenate([m[layer][:, ch] for m in maxima]), index, n_images)
                for layer, ch in missing
            }
            found = concept_patches(
                model, ctx.inputs_t, ctx.dataset.images, missing, top_images, ctx.device,
                n_patches=n_patches, top=top, seed=int(seed), batch_size=ctx.eval_batch_size,
            )
            for n, cc in found.items():
                out[n] = self.concept_cache.put(v.id, (*n, *params), cc)
        return out

    def patch_inputs(self, cc: Concepts) -> torch.Tensor:
        """The model inputs of ``cc``'s patches (each its image with only the patch visible)."""
        return masked(self.ctx.inputs_t(torch.from_numpy(cc.sources)), torch.from_numpy(cc.boxes))

    # ---------------------------------------------------------------- neuron clusters
    def cluster_job(self, version, neurons, threshold, epochs, pairs, lr, batch_size, seed) -> Job:
        v = self.store.version(version)
        threshold, epochs, pairs, lr, batch_size, seed = check_settings(threshold, epochs, pairs, lr, batch_size, seed)
        neurons = self._neurons(self.store.model(v), neurons)  # bad neurons fail here, before the job
        ctx = self.ctx

        def work(emit, stop):
            emit({"type": "concepts", "progress": 0.0, "neurons": len(neurons)})
            concepts = self.concepts(v, neurons, 10, 32, 10, None, 0)
            inputs = {n: self.patch_inputs(cc) for n, cc in concepts.items()}
            result = cluster_neurons(
                self.store.model(v), inputs, ctx.embedding_layer, ctx.device, threshold=threshold, epochs=epochs,
                pairs=pairs, lr=lr, batch_size=batch_size, seed=seed, emit=emit, stop=stop,
            )
            if self.store.alive(v.id):
                self.cluster_cache.put(v.id, "last", result)
                if self.store.workspace is not None:
                    path = self._path(f"clusters_{v.id}.json")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_json(path, _clusters_to_json(result))
            return result

        return Job(work, name="cluster neurons")

    def clusters(self, version) -> NeuronClusters | None:
        return self.cluster_cache.get(self.store.version(version).id, "last")


def _clusters_to_json(c: NeuronClusters) -> dict:
    return {
        "threshold": float(c.threshold), "losses": [float(x) for x in c.losses],
        "layer": c.table["layer"].astype(str).tolist(), "neuron": c.table["neuron"].astype(int).tolist(),
        "cluster": c.table["cluster"].astype(int).tolist(),
    }


def _clusters_from_json(d: dict) -> NeuronClusters:
    table = pd.DataFrame({
        "layer": pd.Series([str(x) for x in d["layer"]], dtype=object),  # as cluster_neurons builds it
        "neuron": np.asarray(d["neuron"], np.int64), "cluster": np.asarray(d["cluster"], np.int64),
    })
    return NeuronClusters(table=table, threshold=float(d["threshold"]), losses=[float(x) for x in d["losses"]])
