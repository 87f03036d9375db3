"""The training service: new versions from the initial weights or a parent, blocking or in a job."""

from __future__ import annotations

import copy
import datetime as _dt
import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..augment.record import Augmentation
from ..models.inference import run_inference
from ..models.version import ModelVersion
from ..runtime.jobs import Cancelled, Job
from ..train import loop
from ..train.loop import TrainConfig
from .context import DataContext
from .progress import progress_bar
from .versions import VersionStore


class TrainingService:
    """Trains versions into the :class:`VersionStore` (see :meth:`Engine.train`)."""

    def __init__(self, ctx: DataContext, store: VersionStore, augmentation):
        self.ctx = ctx
        self.store = store
        self.augmentation = augmentation  # resolves augmentation ids for a training run

    def _prepare(self, hparams: dict, parent, augmentations, replace: bool = False
                 ) -> tuple[TrainConfig, str | None, list[Augmentation]]:
        """Everything a run needs, checked at the call (not after an epoch)."""
        cfg = TrainConfig.from_kwargs(**hparams)
        parent_id = self.store.version(parent).id if parent is not None else None
        augs = self.augmentation.resolve(augmentations)
        if not isinstance(replace, bool):
            raise TypeError(f"replace must be True or False, got {replace!r}")
        if replace and not augs:
            raise ValueError("replace=True swaps augmented images in for their sources: pass augmentations=[...]")
        self.augmentation.check_for_training(augs)
        if not any(p.requires_grad for p in self.ctx.template.parameters()):
            raise ValueError("every parameter of the model is frozen (requires_grad=False): nothing to train")
        if self.store.workspace is not None:
            self.store.workspace.check_writable()
        return cfg, parent_id, augs

    def train(self, hparams: dict, parent, name: str | None, progress: bool, augmentations,
              replace: bool = False) -> ModelVersion:
        cfg, parent_id, augs = self._prepare(hparams, parent, augmentations, replace)
        bar = progress_bar(cfg.epochs, f"train {self.ctx.dataset.name}", progress)

        def emit(ev: dict) -> None:
            if bar is None:
                return
            kind = ev["type"]
            if kind == "start":
                bar.reset(total=ev["epochs"] * ev["batches_per_epoch"])
                bar.unit = "batch"
            elif kind == "batch":
                if "loss" in ev:
                    bar.set_postfix(epoch=ev["epoch"], loss=f"{ev['loss']:.3f}", refresh=False)
                bar.update(1)
            elif kind == "epoch" and ev.get("val_accuracy") is not None:
                bar.set_postfix(epoch=ev["epoch"], val_acc=f"{ev['val_accuracy']:.3f}")

        try:
            with self.store.pinned(parent_id):
                return self._run(cfg, parent_id, name, emit, None, augs, replace)
        finally:
            if bar is not None:
                bar.close()

    def train_async(self, hparams: dict, parent, name: str | None, augmentations, replace: bool = False) -> Job:
        cfg, parent_id, augs = self._prepare(hparams, parent, augmentations, replace)  # errors raise here
        pin = self.store.pinned(parent_id)
        pin.__enter__()  # held from the call on: the parent cannot be discarded under the job

        def work(emit, stop):
            try:
                return self._run(cfg, parent_id, name, emit, stop, augs, replace)
            finally:
                pin.__exit__(None, None, None)

        return Job(work, name="train")

    def trained_from_scratch(self, **hparams) -> ModelVersion | None:
        for v in reversed(self.store.versions):
            if v.parent is None and all(v.hparams.get(k) == x for k, x in hparams.items()):
                return v
        return None

    def _run(
        self,
        cfg: TrainConfig,
        parent_id: str | None,
        name: str | None,
        emit: Callable[[dict], None],
        stop: threading.Event | None,
        augs: Sequence[Augmentation] = (),
        replace: bool = False,
    ) -> ModelVersion:
        ctx = self.ctx
        ds = ctx.dataset
        model = copy.deepcopy(ctx.template)  # keeps the user's requires_grad flags
        model.load_state_dict(self.store.weights(parent_id))
        train_idx = ds.indices("train")
        val_idx = ds.indices("val")

        def validate(m: nn.Module) -> tuple[float | None, float | None]:
            if len(val_idx) == 0:
                return None, None
            out = run_inference(m, ctx.inputs_t, ctx.targets, val_idx, ctx.device, ctx.eval_batch_size)
            return float(out["loss"].mean()), float((out["pred"] == ds.labels[val_idx]).mean())

        started = _dt.datetime.now(_dt.timezone.utc)
        inputs, targets = ctx.inputs_t, ctx.targets
        replaced = 0
        if augs:  # accepted augmented images join the train split, indexed after the dataset
            if replace:  # ... in place of their sources (the paper's mitigation trains on modified data only)
                sources = np.concatenate([a.sources[a.accepted] for a in augs])
                keep = ~np.isin(train_idx, sources)
                replaced = int((~keep).sum())
                train_idx = train_idx[keep]
            extra = np.concatenate([a.images[a.accepted] for a in augs])
            extra_y = np.concatenate([a.labels[a.accepted] for a in augs]).astype(np.int64)
            images = ctx.images_plus(extra)
            targets = torch.cat([ctx.targets, torch.from_numpy(extra_y).to(ctx.targets.device)])
            train_idx = np.concatenate([train_idx, len(ds) + np.arange(len(extra))])
            inputs = ctx.inputs_of(images)

        history = loop.fit(model, inputs, targets, train_idx, cfg, ctx.device, validate, emit, stop)
        if stop is not None and stop.is_set():
            raise Cancelled()
        # The last epoch already validated these exact weights; only the test split is new.
        metrics = {}
        if history and history[-1].get("val_accuracy") is not None:
            metrics["val_accuracy"] = history[-1]["val_accuracy"]
        for split in ("val", "test"):
            idx = ds.indices(split)
            if len(idx) and f"{split}_accuracy" not in metrics:
                out = run_inference(model, ctx.inputs_t, ctx.targets, idx, ctx.device, ctx.eval_batch_size)
                metrics[f"{split}_accuracy"] = float((out["pred"] == ds.labels[idx]).mean())
        weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        source_splits = sorted({s for a in augs for s in a.source_splits(ds.split)} | {"train"})

        def build(vid: str) -> ModelVersion:
            return ModelVersion(
                id=vid,
                parent=parent_id,
                hparams=cfg.to_dict(),
                history=tuple(history),
                lineage={
                    "dataset": ds.fingerprint(),
                    "dataset_name": ds.name,
                    "split": "train",
                    "source_splits": source_splits,
                    "augmentations": [a.id for a in augs],
                    "augmented_images": int(sum(a.n_accepted for a in augs)),
                    "replaced_images": replaced,
                    "parent": parent_id,
                },
                metrics=metrics,
                created=started.isoformat(timespec="seconds"),
                name=name or vid,
            )

        version = self.store.add(build, weights)
        self.store.record(
            {"event": "train", "version": version.id, "parent": parent_id, "hparams": cfg.to_dict(),
             "augmentations": [a.id for a in augs], "replaced_images": replaced}
        )
        return version
