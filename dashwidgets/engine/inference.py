"""The inference service: cached evaluation of versions on dataset splits, and predictions for
images outside the dataset."""

from __future__ import annotations

import numpy as np
import torch

from ..audit.report import BiasAudit, bias_audit
from ..models.inference import run_inference
from ..models.version import ModelVersion
from ..runtime.results import EvalResult
from .context import DataContext
from .versions import VersionStore


class InferenceService:
    """``evaluate`` cached per (version, split, layer) in the store's ``"evaluate"`` cache."""

    def __init__(self, ctx: DataContext, store: VersionStore, max_bytes: int = 1 << 30):
        self.ctx = ctx
        self.store = store
        self.cache = store.cache("evaluate", max_bytes=max_bytes)

    def evaluate(self, version: ModelVersion | str, split: str | None = None, layer: str | None = None) -> EvalResult:
        ctx = self.ctx
        vid = self.store.version(version).id
        split = ctx.check_split(split)
        layer = layer or ctx.embedding_layer
        hit = self.cache.get(vid, (split, layer))
        if hit is not None:
            return hit
        idx = ctx.dataset.indices(split)
        full = self.cache.get(vid, (None, layer))
        if full is not None:
            return self.cache.put(vid, (split, layer), full.take(idx, split))
        model = self.store.model(vid)
        ctx.check_layer(model, layer)
        out = run_inference(model, ctx.inputs_t, ctx.targets, idx, ctx.device, ctx.eval_batch_size, layer)
        labels = ctx.dataset.labels[idx]
        result = EvalResult(
            version=vid, split=split, layer=layer, indices=idx, labels=labels, pred=out["pred"],
            probs=out["probs"], loss=out["loss"], correct=out["pred"] == labels, embedding=out["embedding"],
        )
        return self.cache.put(vid, (split, layer), result)

    def predict(self, version: ModelVersion | str, images: np.ndarray, layer: str | None = None) -> dict[str, np.ndarray]:
        ctx = self.ctx
        v = self.store.version(version)
        images = np.asarray(images)
        shape = ctx.dataset.images.shape[1:]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != shape:
            raise ValueError(
                f"images must be uint8 [N, {', '.join(map(str, shape))}] like the dataset's, "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        n, pool = len(images), images
        if n == 0:  # no batch would run: take the shapes from one dataset image, then no rows
            pool = ctx.dataset.images[:1]
        out = run_inference(
            self.store.model(v), ctx.inputs_of(torch.from_numpy(pool)),
            torch.zeros(len(pool), dtype=torch.int64, device=ctx.device), np.arange(len(pool)),
            ctx.device, ctx.eval_batch_size, layer or ctx.embedding_layer,
        )
        return {"pred": out["pred"][:n], "probs": out["probs"][:n], "embedding": out["embedding"][:n]}

    def audit(self, version: ModelVersion | str) -> BiasAudit:
        v = self.store.version(version)
        ds = self.ctx.dataset
        results = {s: self.evaluate(v, s) for s in ("val", "test") if len(ds.indices(s))}
        return bias_audit(v.id, results, ds)
