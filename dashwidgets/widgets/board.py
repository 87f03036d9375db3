"""ClassifierBoard: train in the background with live losses, compare every version's curves,
manage versions and export their hyper-parameters."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import traitlets

from ..engine.engine import Engine
from ..runtime.jobs import Job
from ..train.loop import OPTIMIZERS, TrainConfig
from ._base import RunsJob, View

_DEFAULTS = TrainConfig()
"""The training defaults, defined once by TrainConfig; the form starts from them."""

MAX_BATCH_POINTS = 600
"""Live batch-loss points kept (and re-sent with each update); beyond it neighbours are merged."""


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 6)


class ClassifierBoard(RunsJob, View):
    """DASH's Classifier Board for one Engine.

    A hyper-parameter form starts :meth:`Engine.train_async` (the kernel stays free). Two charts
    overlay every version's loss (train solid, val dashed) and val accuracy per epoch, one colour
    per version with a toggle each; the running job adds a train-loss point every few batches
    (x in fractional epochs), and a cancelled run's partial curve stays, marked, until the next
    run. The version list shows name, parent, val / unbiased-test accuracy, hyper-parameters and
    lineage; it switches the engine's active version (views created without a version follow it),
    picks two versions to compare (``compare``, link it to a MosaicView) and discards versions
    (the active one cannot be). Versions trained from Python (``engine.train`` in a cell) appear
    at once, with the status line. :meth:`hparams_table` / :meth:`export_csv` (and the browser's
    Export CSV button) give the hyper-parameter table.

    Parameters
    ----------
    engine : Engine
    progress_interval : float
        Seconds between progress updates (and live batch-loss points) sent to the browser while
        training; epochs are always sent at once.
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
    val_accuracy = traitlets.List(traitlets.Float(allow_none=True)).tag(sync=True)
    """list of float: val accuracy (0..1) per finished epoch of the running (or last) job."""
    batch_loss = traitlets.List(traitlets.List()).tag(sync=True)
    """list of [epoch, loss]: the running (or last) job's train loss within epochs, one point per
    ``progress_interval`` (the mean over the batches since the last point; x is fractional,
    epoch 1 spans (0, 1]); at most ``MAX_BATCH_POINTS``, pairs merged beyond."""
    message = traitlets.Unicode("").tag(sync=True)
    """str: status line (what the last job did)."""

    def __init__(self, engine: Engine, progress_interval: float = 0.25, **kwargs: Any):
        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a dashwidgets Engine, got {type(engine).__name__}")
        self._engine = engine
        self._progress_interval = float(progress_interval)
        self._lock = threading.Lock()
        self.job: Job | None = None
        self._window: list[float] = []  # batch losses since the last live point
        self._per_epoch = 1
        self._announced = ""  # the version the status line just announced
        super().__init__(**kwargs)
        self._refresh()
        engine.on("version", self._on_engine_version)
        engine.on("discard", self._on_engine_discard)
        engine.on("active", self._on_engine_active)
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
                        {"epoch": h.get("epoch"), **{k: _num(h.get(k)) for k in ("train_loss", "val_loss", "val_accuracy")}}
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

    def _on_engine_version(self, event: dict) -> None:
        """A new version, from this board's job or from Python (``engine.train`` in a cell)."""
        self._refresh()
        vid = str(event.get("version", ""))
        active = self._engine.active
        self._announced = vid if active is not None and active.id == vid else ""  # its "active" event follows
        self.message = self._trained_message(vid)

    def _on_engine_discard(self, event: dict) -> None:
        self._refresh()
        self.message = f"discarded {event.get('version')}"

    def _on_engine_active(self, event: dict) -> None:
        self._refresh()
        new = event.get("new")
        if new and new != self._announced:  # a new version's own activation is in its message
            self.message = f"{new} is active: views that follow the engine show it"
        self._announced = ""

    def _trained_message(self, vid: str) -> str:
        row = next((r for r in self.versions if r["id"] == vid), None)
        if row is None:
            return f"trained {vid}"
        acc = row["val_accuracy"]
        acc_text = f", val accuracy {100 * acc:.1f} %" if acc is not None else ""
        epochs = row["hparams"].get("epochs", "?")
        return f"trained {vid} ({epochs} epoch(s) from {row['parent'] or 'scratch'}{acc_text}); {len(self.versions)} version(s)"

    # -------------------------------------------------------------- hyper-parameter table
    def hparams_table(self) -> pd.DataFrame:
        """One row per version: version, name, parent, each hyper-parameter, augmentations
        (space-separated ids), val_accuracy, test_accuracy (0..1) and created. The browser's
        Export CSV button writes the same columns."""
        keys = list(dict.fromkeys(k for r in self.versions for k in r["hparams"]))
        rows = [
            {"version": r["id"], "name": r["name"], "parent": r["parent"], **{k: r["hparams"].get(k) for k in keys},
             "augmentations": " ".join(r["augmentations"]), "val_accuracy": r["val_accuracy"],
             "test_accuracy": r["test_accuracy"], "created": r["created"]}
            for r in self.versions
        ]
        columns = ["version", "name", "parent", *keys, "augmentations", "val_accuracy", "test_accuracy", "created"]
        return pd.DataFrame(rows, columns=columns)

    def export_csv(self, path: str | Path) -> Path:
        """Write :meth:`hparams_table` to ``path`` as CSV (no index column); returns the path."""
        path = Path(path)
        self.hparams_table().to_csv(path, index=False)
        return path

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
        return self._one_of(proposal, OPTIMIZERS)

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
            self.val_accuracy = []
            self.batch_loss = []
            extra = f" with {', '.join(self.use_augmentations)}" if self.use_augmentations else ""
            self.message = f"training {cfg.epochs} epoch(s) from {self.parent or 'scratch'}{extra}"
        self._window, self._progress_sent = [], time.monotonic()  # the first point one interval in
        self.job = job
        job.on_event(self._on_job_event)
        return job

    def _on_job_event(self, ev: dict) -> None:
        kind = ev.get("type")
        if kind == "start":
            self._per_epoch = max(1, int(ev.get("batches_per_epoch", 1)))
        elif kind == "batch":
            self._on_batch(ev)
        elif kind == "epoch":
            with self.hold_sync():
                self._flush_window(float(ev.get("epoch", self.epoch + 1)))
                self.epoch = int(ev.get("epoch", self.epoch))
                self.train_loss = [*self.train_loss, _num(ev.get("train_loss"))]
                self.val_loss = [*self.val_loss, _num(ev.get("val_loss"))]
                self.val_accuracy = [*self.val_accuracy, _num(ev.get("val_accuracy"))]
                self.progress = float(ev.get("progress", self.progress))
        elif kind == "done":
            v = self.job.result() if self.job is not None else None
            with self.hold_sync():
                self.state = "done"
                self.progress = 1.0
                self.message = self._trained_message(v.id) if v is not None else "done"
        elif kind == "cancelled":
            with self.hold_sync():
                self.state = "cancelled"
                self.message = "cancelled: no version was made"
        elif kind == "failed":
            with self.hold_sync():
                self.state = "failed"
                self.error = f"training failed: {ev.get('error', 'unknown error')}"
                self.message = "failed: no version was made"

    def _on_batch(self, ev: dict) -> None:
        """Collect batch losses; every ``progress_interval`` send their mean as one live point
        (at the batch's fractional epoch) together with the progress."""
        loss = ev.get("loss")
        if loss is not None and math.isfinite(float(loss)):
            self._window.append(float(loss))
        if not self._due():
            return
        with self.hold_sync():
            self._flush_window(int(ev.get("epoch", 1)) - 1 + int(ev.get("batch", 0)) / self._per_epoch)
            self.progress = float(ev.get("progress", self.progress))

    def _flush_window(self, x: float) -> None:
        if not self._window:
            return
        points = [*self.batch_loss, [round(x, 4), round(sum(self._window) / len(self._window), 6)]]
        self._window = []
        if len(points) > MAX_BATCH_POINTS:  # merge neighbours: the curve keeps its shape, the comm stays small
            points = [[(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] for a, b in zip(points[::2], points[1::2], strict=False)] + (
                [points[-1]] if len(points) % 2 else []
            )
        self.batch_loss = points

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
