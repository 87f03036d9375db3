"""The attribution service: attribution maps (cached on the CPU, bounded in memory, and in the
workspace's disk cache per version, method, layer, target and index sets and parameters), their
scores on the ground-truth masks, AOPC, and the biased-vs-reference report."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..explain.attribution import METHODS, attribute, check_params
from ..explain.bias import BiasReport, bias_report
from ..explain.metrics import rma, rra
from ..explain.perturbation import AOPCResult, aopc
from ..models.layers import last_conv
from ..models.version import ModelVersion
from ..runtime.executor import LocalExecutor
from .context import DataContext, check_positive_int
from .inference import BatchTask
from .versions import VersionStore

_CACHE_BYTES = 512 << 20


class AttributionTask(BatchTask):
    """``attribute`` over ``idx`` as a batch task (the batches ``attribute`` makes locally)."""

    def __init__(self, ctx: DataContext, model, idx: np.ndarray, targets: np.ndarray, method: str,
                 layer: str | None, batch_size: int, params: dict, device: str):
        super().__init__(ctx, model, idx, batch_size, device)
        self.attr_targets, self.method, self.layer = np.asarray(targets, np.int64), method, layer
        self.params = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in params.items()}

    def setup(self) -> None:
        super().setup()
        self._params = {k: v.to(self._dev) if isinstance(v, torch.Tensor) else v for k, v in self.params.items()}

    def run(self, bi: np.ndarray, start: int) -> dict[str, np.ndarray]:
        t = torch.from_numpy(self.attr_targets[start : start + len(bi)])
        x = self._inputs(torch.from_numpy(bi))
        maps = attribute(self._model, x, t, self.method, self.layer, self.batch_size, **self._params)
        return {"maps": maps.cpu().numpy()}


class AttributionService:
    def __init__(self, ctx: DataContext, store: VersionStore, inference, max_bytes: int = _CACHE_BYTES):
        self.ctx = ctx
        self.store = store
        self.inference = inference
        self.cache = store.cache("attribution", max_bytes=max_bytes)

    def attribute(
        self, version, idx, method: str, target, layer: str | None, numpy: bool, batch_size: int | None, params: dict
    ) -> torch.Tensor | np.ndarray:
        ctx = self.ctx
        v = self.store.version(version)
        idx = ctx.dataset.check_indices(idx)
        if len(idx) == 0:
            raise ValueError("empty selection: no images to attribute")
        if method not in METHODS:
            raise ValueError(f"unknown attribution method {method!r}; choose one of {sorted(METHODS)}")
        check_params(method, params)
        if batch_size is not None:
            batch_size = check_positive_int("batch_size", batch_size)
        model = self.store.model(v)
        if method in ("gradcam", "scorecam"):
            layer = ctx.check_layer(model, layer or last_conv(model))
        elif layer is not None:
            raise ValueError(f"{method} attributes to the input; layer= is only for 'gradcam' and 'scorecam'")
        targets = self.targets_for(v, idx, target)
        key = (method, layer, targets.tobytes(), idx.tobytes(), repr(sorted(params.items())))
        maps = self.cache.get(v.id, key)
        disk_key = {"method": method, "layer": layer, "targets": targets, "idx": idx, "params": params}
        if maps is None and self.store.disk is not None:
            got = self.store.disk.get(v.id, "attribution", disk_key)
            if got is not None and set(got) == {"maps"} and got["maps"].shape == (len(idx), *ctx.dataset.image_size):
                maps = self.cache.put(v.id, key, torch.from_numpy(got["maps"]))
        if maps is None:
            if method in ("ig", "scorecam") and params.get("baseline") is None:
                params = {**params, "baseline": ctx.black}
            batch_size = batch_size or (64 if ctx.device.type == "cpu" else 512)
            executor = self.inference.executor
            if isinstance(executor, LocalExecutor):
                maps = attribute(model, ctx.inputs(idx), torch.from_numpy(targets), method, layer, batch_size, **params)
            else:  # the same batches on the executor's workers (see InferenceService)
                task = AttributionTask(ctx, model, idx, targets, method, layer, batch_size, params, ctx.device.type)
                maps = torch.from_numpy(executor.map_batches(task, gpu=ctx.device.type == "cuda")["maps"])
            maps = self.cache.put(v.id, key, maps.cpu())  # device memory is not held by the cache
            if self.store.disk is not None:  # one file per call (see diskcache for why)
                self.store.disk.put(v.id, "attribution", disk_key, {"maps": maps.numpy()})
        return maps.numpy() if numpy else maps.to(ctx.device)

    def scores(self, version, idx, method: str, target, layer: str | None, params: dict) -> pd.DataFrame:
        ds = self.ctx.dataset
        idx = ds.check_indices(idx)
        maps = self.attribute(version, idx, method, target, layer, True, None, params)
        cols = {}
        for name, mask in ds.masks.items():
            cols[f"rma_{name}"] = rma(maps, mask[idx])
            cols[f"rra_{name}"] = rra(maps, mask[idx])
        return pd.DataFrame(cols, index=pd.Index(idx, name="index"))

    def aopc(self, version, idx, method: str, target, steps: int, patch: int, seed: int, layer, params: dict) -> AOPCResult:
        ctx = self.ctx
        v = self.store.version(version)
        idx = ctx.dataset.check_indices(idx)
        if len(idx) == 0:
            raise ValueError("empty selection: no images to perturb")
        steps, patch = check_positive_int("steps", steps), check_positive_int("patch", patch)
        targets = self.targets_for(v, idx, target)
        if method == "random":
            if params or layer is not None:
                raise TypeError(f"method='random' takes no attribution parameters, got {sorted(params) or ['layer']}")
            g = torch.Generator().manual_seed(int(seed) + 1)
            maps = torch.rand((len(idx), *ctx.dataset.image_size), generator=g)
        else:
            maps = self.attribute(v, idx, method, targets, layer, False, None, params)
        low, high = ctx.shift, ctx.shift + 255.0 * ctx.scale  # pixel values 0 and 1
        scores, curves = aopc(
            self.store.model(v), ctx.inputs(idx), torch.from_numpy(targets), maps, steps, patch, low, high, seed,
            batch_size=ctx.eval_batch_size // 4 or 1,
        )
        return AOPCResult(method, idx, scores, curves)

    def bias_report(
        self, biased, reference, method, split, idx, target, other: AttributionService, params: dict
    ) -> BiasReport:
        ds = self.ctx.dataset
        if not ds.masks:
            raise ValueError(
                "this dataset has no ground-truth masks (object/bias), so attribution mass cannot be scored"
            )
        a, b = self.store.version(biased), other.store.version(reference)
        label = split if idx is None else "selection"
        idx = ds.indices(self.ctx.check_split(split)) if idx is None else ds.check_indices(idx)
        if len(idx) < 2:
            raise ValueError(f"need at least 2 images to compare two models, got {len(idx)}")
        methods = [method] if isinstance(method, str) else list(method)
        maps_a = {m: self.attribute(a, idx, m, target, None, True, None, params) for m in methods}
        if other is not self:
            other.ctx.dataset.check_indices(idx)
            if not np.array_equal(other.ctx.dataset.images[idx], ds.images[idx]):
                raise ValueError(
                    "the reference engine's images differ from this engine's at these indices; "
                    "compare on images both hold (the embedded benchmarks share their test split)"
                )
        maps_b = {m: other.attribute(b, idx, m, target, None, True, None, params) for m in methods}
        masks = {name: mask[idx] for name, mask in ds.masks.items()}
        ref_name = b.id if b.id != a.id else f"{b.id} (reference)"
        return bias_report(maps_a, maps_b, masks, idx, a.id, ref_name, label)

    def targets_for(self, v: ModelVersion, idx: np.ndarray, target: str | int | Sequence[int] | np.ndarray) -> np.ndarray:
        ds = self.ctx.dataset
        if isinstance(target, str):
            if target == "pred":
                return self.inference.evaluate(v).pred[idx]
            if target == "label":
                return ds.labels[idx]
            return np.full(len(idx), ds.class_index(target), np.int64)  # a class name
        arr = np.asarray(target)
        if arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer):
            arr = np.full(len(idx), int(arr), np.int64)
        if arr.shape != (len(idx),) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"target must be 'pred', 'label', a class, or one class index per image; got {arr.dtype} shape {arr.shape}"
            )
        bad = arr[(arr < 0) | (arr >= ds.num_classes)]
        if bad.size:
            raise ValueError(f"target classes out of range [0, {ds.num_classes}): {bad[:5].tolist()}")
        return arr.astype(np.int64)
