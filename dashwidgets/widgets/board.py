"""ClassifierBoard: train in the background with live losses, and manage versions."""

from __future__ import annotations

import math
import threading
from typing import Any

import traitlets

from ..engine.engine import Engine
from ..runtime.jobs import Job
from ..train.loop import OPTIMIZERS, TrainConfig
from ._base import View

_DEFAULTS = TrainConfig()
"""The training defaults, defined once by TrainConfig; the form starts from them."""


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 6)


class ClassifierBoard(View):
    """DASH's Classifier Board for one Engine.

    A hyper-parameter form starts :meth:`Engine.train_async` (the kernel stays free); while it
    runs, train (red) and val (blue) loss appear per epoch with a progress bar and a Cancel
    button. The version list shows name, parent, val / unbiased-test accuracy, hyper-parameters
    and lineage; it switches the engine's active version (views created without a version follow
    it), picks two versions to compare (``compare``, link it to a MosaicView) and discards
    versions (the active one cannot be).

    Parameters
    ----------
    engine : Engine
    progress_interval : float
        Seconds between progress updates sent to the browser while training (epochs are always
        sent at once).
    """

    _bundle = "board"

    epochs = traitlets.Int(_DEFAULTS.epochs).tag(sync=True)
    """int: epochs of the next run (default: TrainConfig's)."""
    lr = traitlets.Float(_DEFAULTS.lr).tag(sync=True)
    batch_size = traitlets.Int(_DEFAULTS.batch_size).tag(sync=True)
    optimizer = traitlets.Unicode(_DEFAULTS.optimizer).tag(sync=True)
    optimizers = traitlets.List(traitlets.Unicode(), default_value=list(OPTIMIZERS)).tag(sync=True)
    weight_decay = traitlets.Float(_DEFAULTS.weight_decay).tag(sync=True)
    seed = traitlets.Int(_DEFAULTS.seed).tag(sync=True)
    parent = traitlets.Unicode("").tag(sync=True)
    """str: version to start from ("": the initial weights, a model trained from scratch)."""

    augmentation_options = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the engine's augmentations (id, method, style, images, accepted)."""
    use_augmentations = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: augmentations whose accepted images join the next training run."""

    versions = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: one row per version (id, name, parent, val/test accuracy, hparams, lineage)."""
    active = traitlets.Unicode("").tag(sync=True)
    """str: the engine's active version; setting it pins ``engine.active``."""
    compare = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: the (up to) two versions picked for comparison, older first."""

    state = traitlets.Unicode("idle").tag(sync=True)
    """str: "idle", "running", "done", "failed" or "cancelled" (the last training job)."""
    progress = traitlets.Float(0.0).tag(sync=True)
    """float: share of the running job done."""
    epoch = traitlets.Int(0).tag(sync=True)
    train_loss = traitlets.List(traitlets.Float(allow_none=True)).tag(sync=True)
    """list of float: mean train loss per finished epoch of the running (or last) job."""
    val_loss = traitlets.List(traitlets.Float(allow_none=True)).tag(sync=True)
    """list of float: val loss per finished epoch (None without a val split)."""
    message = traitlets.Unicode("").tag(sync=True)
    """str: status line (what the last job did)."""

    def __init__(self, engine: Engine, progress_interval: float = 0.25, **kwargs: Any):
        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a dashwidgets Engine, got {type(engine).__name__}")
        self._engine = engine
        self._progress_interval = float(progress_interval)
        self._lock = threading.Lock()
        self.job: Job | None = None
        super().__init__(**kwargs)
        self._refresh()
        engine.on("version", self._on_engine)
        engine.on("discard", self._on_engine)
        engine.on("active", self._on_engine)
        engine.on("augment", self._on_engine)
        self.on_msg(self._on_msg)

    @property
    def engine(self) -> Engine:
        return self._engine

    # -------------------------------------------------------------- versions
    def _rows(self) -> list[dict]:
        rows = []
        for v in self._engine.versions:
            rows.append(
                {
                    "id": v.id,
                    "name": v.name,
                    "parent": v.parent or "",
                    "val_accuracy": _num(v.metrics.get("val_accuracy")),
                    "test_accuracy": _num(v.metrics.get("test_accuracy")),
                    "hparams": dict(v.hparams),
                    "augmentations": list(v.lineage.get("augmentations", [])),
                    "created": v.created,
                    "history": [
                        {"epoch": h.get("epoch"), "train_loss": _num(h.get("train_loss")), "val_loss": _num(h.get("val_loss"))}
                        for h in v.history
                    ],
                }
            )
        return rows

    def _refresh(self) -> None:
        active = self._engine.active
        ids = [v.id for v in self._engine.versions]
        augs = [a.meta() for a in self._engine.augmentations]
        with self.hold_sync():
            self.augmentation_options = augs
            self.use_augmentations = [a for a in self.use_augmentations if a in {m["id"] for m in augs}]
            self.versions = self._rows()
            self.active = active.id if active else ""
            if self.parent and self.parent not in ids:
                self.parent = ""
            kept = [c for c in self.compare if c in ids]
            if len(kept) < 2 and len(ids) >= 2 and not self.compare:
                kept = ids[-2:]
            self.compare = kept

    def _on_engine(self, event: dict) -> None:
        self._refresh()

    @traitlets.observe("active")
    def _on_active(self, change) -> None:
        new = change["new"]
        current = self._engine.active
        if not new or (current is not None and current.id == new):
            return
        try:
            self._engine.active = new
        except (ValueError, TypeError) as e:
            self._report(e)
            self.active = current.id if current else ""

    @traitlets.validate("compare")
    def _check_compare(self, proposal):
        value = list(dict.fromkeys(proposal["value"]))  # unique, order kept
        ids = [v.id for v in self._engine.versions]
        bad = [c for c in value if c not in ids]
        if bad:
            self._reject(f"unknown version(s) {bad} in compare; known: {ids}")
        if len(value) > 2:
            value = value[-2:]  # the two picked last
        return sorted(value, key=ids.index)

    @traitlets.validate("parent")
    def _check_parent(self, proposal):
        value = proposal["value"]
        if value and value not in [v.id for v in self._engine.versions]:
            self._reject(f"unknown version {value!r} to start from")
        return value

    @traitlets.validate("optimizer")
    def _check_optimizer(self, proposal):
        if proposal["value"] not in OPTIMIZERS:
            self._reject(f"unknown optimizer {proposal['value']!r}; choose one of {list(OPTIMIZERS)}")
        return proposal["value"]

    def discard(self, version: str) -> None:
        """Discard ``version`` from the engine (refused for the active one, with a message)."""
        active = self._engine.active
        if active is not None and version == active.id:
            self.error = f"{version} is the active version and cannot be discarded; make another version active first"
            return
        try:
            self._engine.discard(version)
        except (ValueError, TypeError) as e:
            self._report(e)
            return
        self.error = ""
        self.message = f"discarded {version}"

    # -------------------------------------------------------------- training
    def config(self) -> TrainConfig:
        """The form's hyper-parameters, validated by the engine (raises ValueError with the bad field)."""
        return self._engine.train_config(
            epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, optimizer=self.optimizer,
            weight_decay=self.weight_decay, seed=self.seed,
        )

    def train(self) -> Job | None:
        """Start a background training job with the form's values; returns the Job (None, with
        the message in the board, when the values are invalid or a job is already running)."""
        if self.job is not None and not self.job.done:
            self.error = "a training job is already running; cancel it or wait"
            return None
        try:
            cfg = self.config()
            job = self._engine.train_async(
                **cfg.to_dict(), parent=self.parent or None, augmentations=list(self.use_augmentations) or None
            )
        except (ValueError, TypeError) as e:
            self._report(e)
            return None
        with self.hold_sync():
            self.error = ""
            self.state = "running"
            self.progress = 0.0
            self.epoch = 0
            self.train_loss = []
            self.val_loss = []
            extra = f" with {', '.join(self.use_augmentations)}" if self.use_augmentations else ""
            self.message = f"training {cfg.epochs} epoch(s) from {self.parent or 'scratch'}{extra}"
        self.job = job
        job.on_event(self._on_job_event)
        return job

    def cancel(self) -> None:
        """Ask the running job to stop; it leaves no version."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
            self.message = "cancelling…"

    def _on_job_event(self, ev: dict) -> None:
        kind = ev.get("type")
        if kind == "batch":
            self._throttled_progress(ev.get("progress", self.progress))
        elif kind == "epoch":
            with self.hold_sync():
                self.epoch = int(ev.get("epoch", self.epoch))
                self.train_loss = [*self.train_loss, _num(ev.get("train_loss"))]
                self.val_loss = [*self.val_loss, _num(ev.get("val_loss"))]
                self.progress = float(ev.get("progress", self.progress))
        elif kind == "done":
            v = self.job.result() if self.job is not None else None
            with self.hold_sync():
                self.state = "done"
                self.progress = 1.0
                self.message = f"trained {v.id}" if v is not None else "done"
        elif kind == "cancelled":
            with self.hold_sync():
                self.state = "cancelled"
                self.message = "cancelled: no version was made"
        elif kind == "failed":
            with self.hold_sync():
                self.state = "failed"
                self.error = f"training failed: {ev.get('error', 'unknown error')}"
                self.message = "failed: no version was made"

    # -------------------------------------------------------------- browser actions
    def _on_msg(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        try:
            if action == "train":
                form = ("epochs", "lr", "batch_size", "weight_decay", "optimizer", "parent", "use_augmentations")
                if self._apply(content.get("form") or {}, form):
                    self.train()
            elif action == "cancel":
                self.cancel()
            elif action == "discard":
                self.discard(str(content.get("version", "")))
        except Exception as e:  # noqa: BLE001 - shown in the board, the kernel lives
            self._report(e)
