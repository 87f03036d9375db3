"""The inference service: cached evaluation of versions on dataset splits, and predictions for
images outside the dataset."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..audit.report import BiasAudit, bias_audit
from ..models.inference import run_inference
from ..models.version import ModelVersion
from ..runtime.executor import LocalExecutor, resolve_executor
from ..runtime.results import EvalResult
from .context import DataContext, MappedRows
from .versions import VersionStore

_EVAL_ARRAYS = ("indices", "labels", "pred", "probs", "loss", "correct", "embedding")


def _store_file(dataset) -> str | None:
    """The ``images.npy`` of the image store a memory-mapped dataset reads, when its images are
    that file's rows exactly (checked on the shape and the first and last image); else None."""
    folder = dataset.meta.get("store") if dataset.mapped else None
    if not folder:
        return None
    path = f"{folder}/images.npy"
    try:
        on_disk = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    images = dataset.images
    if on_disk.shape != images.shape or on_disk.dtype != images.dtype:
        return None
    if len(images) and not (np.array_equal(on_disk[0], images[0]) and np.array_equal(on_disk[-1], images[-1])):
        return None
    return path


class BatchTask:
    """Batch work over ``idx`` for an executor (see :mod:`dashwidgets.runtime.executor`): batch
    ``k`` is ``idx[k * batch_size:][:batch_size]``, the same batches as the local pass, computed
    the same way, so CPU results are bitwise equal. Subclasses define ``run(bi, start)``.

    Pickled into the executor's object store: the model (on CPU), the images (the uint8 array,
    or only the file of a memory-mapped image store), labels and normalisation. ``shared`` names
    the attributes an executor may put into its object store once and reuse while they are the
    same object (the dataset's images: a new version's task ships only its model).

    ``images``/``labels``: other uint8 images (and their labels, default 0) instead of the
    dataset's, e.g. ``predict``'s; ``idx`` then indexes them."""

    shared = ("images",)

    def __init__(self, ctx: DataContext, model: nn.Module, idx: np.ndarray, batch_size: int, device: str,
                 images: np.ndarray | None = None, labels: np.ndarray | None = None):
        self.model = copy.deepcopy(model).to("cpu")
        if images is not None:  # shipped with the task each time (not kept by the executor)
            self.images, self.mmap, self.shared = np.ascontiguousarray(images), None, ()
            self.labels = np.zeros(len(images), np.int64) if labels is None else np.asarray(labels, np.int64)
        else:
            self.images, self.mmap = None, _store_file(ctx.dataset)
            if self.mmap is None:  # in memory (or a mapped view no file holds as is): the array itself
                self.images = np.ascontiguousarray(ctx.dataset.images)
            self.labels = np.asarray(ctx.dataset.labels, np.int64)
        self.scale, self.shift = ctx.scale.cpu(), ctx.shift.cpu()
        self.idx = np.asarray(idx, np.int64)
        self.batch_size, self.device = int(batch_size), device
        self.n_batches = -(-len(self.idx) // self.batch_size)

    def setup(self) -> None:
        """Where the task runs: model and tensors onto its device, images opened."""
        dev = self._dev = torch.device(self.device)
        self._model = self.model.to(dev).eval()
        images = self.images if self.mmap is None else np.load(self.mmap, mmap_mode="r")
        self._rows = MappedRows(images)
        self._targets = torch.from_numpy(self.labels).to(dev)
        self._scale, self._shift = self.scale.to(dev), self.shift.to(dev)

    def _inputs(self, bi: torch.Tensor) -> torch.Tensor:  # as DataContext.inputs_t
        x = self._rows[bi].to(self._dev, non_blocking=True)
        return x.float().mul_(self._scale).add_(self._shift)

    def run(self, bi: np.ndarray, start: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __call__(self, k: int) -> dict[str, np.ndarray]:
        start = k * self.batch_size
        bi = self.idx[start : start + self.batch_size]
        out = self.run(bi, start)
        out["pos"] = np.arange(start, start + len(bi), dtype=np.int64)
        return out


class EvalTask(BatchTask):
    """``run_inference`` (pred, probs, loss, pooled ``layer``) as a batch task (over ``images``
    when given, as ``predict``)."""

    def __init__(self, ctx: DataContext, model: nn.Module, idx: np.ndarray, layer: str | None, device: str,
                 images: np.ndarray | None = None):
        super().__init__(ctx, model, idx, ctx.eval_batch_size, device, images)
        self.layer = layer

    def run(self, bi: np.ndarray, start: int) -> dict[str, np.ndarray]:
        return run_inference(self._model, self._inputs, self._targets, bi, self._dev, self.batch_size, self.layer)


class InferenceService:
    """``evaluate`` cached per (version, split, layer) in the store's ``"evaluate"`` cache, and
    in the workspace's disk cache (see :mod:`.diskcache`), so a reopened engine reads it back.

    ``executor``: where evaluate's batches run (``"local"``, ``"ray"`` or an executor, see
    :mod:`dashwidgets.runtime.executor`); the results are the same."""

    def __init__(self, ctx: DataContext, store: VersionStore, max_bytes: int = 1 << 30, executor=None):
        self.ctx = ctx
        self.store = store
        self.cache = store.cache("evaluate", max_bytes=max_bytes)
        self.executor = resolve_executor(executor)

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
        stored = self._from_disk(vid, split, layer, idx)
        if stored is not None:
            return self.cache.put(vid, (split, layer), stored)
        model = self.store.model(vid)
        ctx.check_layer(model, layer)
        if isinstance(self.executor, LocalExecutor) or not len(idx):
            out = run_inference(model, ctx.inputs_t, ctx.targets, idx, ctx.device, ctx.eval_batch_size, layer)
        else:
            task = EvalTask(ctx, model, idx, layer, ctx.device.type)
            out = self.executor.map_batches(task, gpu=ctx.device.type == "cuda")
        labels = ctx.dataset.labels[idx]
        result = EvalResult(
            version=vid, split=split, layer=layer, indices=idx, labels=labels, pred=out["pred"],
            probs=out["probs"], loss=out["loss"], correct=out["pred"] == labels, embedding=out["embedding"],
        )
        if self.store.disk is not None:
            self.store.disk.put(vid, "evaluate", {"split": split, "layer": layer, "n": len(ctx.dataset)},
                                {k: getattr(result, k) for k in _EVAL_ARRAYS})
        return self.cache.put(vid, (split, layer), result)

    def _from_disk(self, vid: str, split: str | None, layer: str, idx: np.ndarray) -> EvalResult | None:
        """The evaluation kept in the workspace's cache: of ``split`` itself, or sliced from
        the all-images one (which then is kept in memory too); None when neither is there."""
        disk = self.store.disk
        if disk is None:
            return None
        n, k = len(self.ctx.dataset), self.ctx.dataset.num_classes
        for s in (split, None) if split is not None else (None,):
            rows = idx if s is None else np.arange(len(idx))
            got = disk.get(vid, "evaluate", {"split": s, "layer": layer, "n": n})
            if got is None or set(got) != set(_EVAL_ARRAYS):
                continue
            if not (np.array_equal(got["indices"], self.ctx.dataset.indices(s)) and got["probs"].ndim == 2
                    and got["probs"].shape[1] == k and all(len(a) == len(got["indices"]) for a in got.values())):
                continue  # written for other images: recomputed
            result = EvalResult(version=vid, split=s, layer=layer, **got)
            if s is None and split is not None:
                self.cache.put(vid, (None, layer), result)
            return result if s == split else result.take(rows, split)
        return None

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
        n, pool, model, layer = len(images), images, self.store.model(v), layer or ctx.embedding_layer
        if n and not isinstance(self.executor, LocalExecutor):  # the same batches on its workers
            task = EvalTask(ctx, model, np.arange(n), layer, ctx.device.type, images=images)
            out = self.executor.map_batches(task, gpu=ctx.device.type == "cuda")
            return {"pred": out["pred"], "probs": out["probs"], "embedding": out["embedding"]}
        if n == 0:  # no batch would run: take the shapes from one dataset image, then no rows
            pool = ctx.dataset.images[:1]
        out = run_inference(
            model, ctx.inputs_of(torch.from_numpy(pool)),
            torch.zeros(len(pool), dtype=torch.int64, device=ctx.device), np.arange(len(pool)),
            ctx.device, ctx.eval_batch_size, layer,
        )
        return {"pred": out["pred"][:n], "probs": out["probs"][:n], "embedding": out["embedding"][:n]}

    def audit(self, version: ModelVersion | str) -> BiasAudit:
        v = self.store.version(version)
        ds = self.ctx.dataset
        results = {s: self.evaluate(v, s) for s in ("val", "test") if len(ds.indices(s))}
        return bias_audit(v.id, results, ds)
