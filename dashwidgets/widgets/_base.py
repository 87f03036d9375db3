"""What every view shares: the bundle location, keyword checking, an error trait."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import anywidget
import numpy as np
import traitlets

from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._codec import SortedIndices, selection_from_json, selection_to_json, sorted_unique

STATIC = Path(__file__).resolve().parent.parent / "static"


def bundle(name: str) -> Path:
    """Path of a built JS view module; a clear error when the front end was never built."""
    path = STATIC / f"{name}.js"
    if not path.exists():
        raise RuntimeError(
            f"the front-end bundle {path} is missing: install the package with pip (it runs the JS "
            "build), or run `npm install && npm run build` in the repository's js/ folder"
        )
    return path


def cell_size(engine: Engine, lo: int, hi: int) -> int:
    """Thumbnail cell in pixels for ``engine``'s images: their side, clamped to [lo, hi]."""
    h, w = engine.dataset.image_size if isinstance(engine, Engine) else (32, 32)
    return int(min(hi, max(lo, max(h, w))))


class Indices(traitlets.List):
    """A list of image indices that also takes numpy arrays, ranges and tuples (made plain lists).

    It travels to and from the browser as one binary buffer (uint32 indices, or a bitmask when
    that is smaller: ``_codec.encode_selection``), not as a JSON list; in Python it stays a sorted
    list of int. Views pair it with a validator (``EngineView._valid_selection``) that sorts,
    deduplicates and range-checks it.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.tag(to_json=selection_to_json, from_json=selection_from_json)

    def validate(self, obj, value):
        if isinstance(value, SortedIndices):
            return value  # decoded from the wire; the view's validator unwraps it
        if isinstance(value, (np.ndarray, tuple, range)):
            value = np.asarray(value).tolist()
        return super().validate(obj, value)


class View(anywidget.AnyWidget):
    """Base of every dashwidgets view.

    A view names its front-end module once, ``_bundle = "projection"``: an entry of
    ``js/views.json``, the build's list of views; ``_esm`` is derived from it. Unknown keyword
    arguments raise a TypeError (a typo must not pass silently), and engine errors are shown in
    the view through the ``error`` trait instead of killing the cell.
    """

    _bundle: ClassVar[str] = ""
    """str: the view's JS module: ``js/<name>.js``, built to ``static/<name>.js``."""

    error = traitlets.Unicode("").tag(sync=True)
    """str: message shown in the view's error banner ("" hides it)."""

    def __init_subclass__(cls, **kwargs: Any):
        if cls.__dict__.get("_bundle"):
            cls._esm = STATIC / f"{cls._bundle}.js"  # set before anywidget's hook reads _esm
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs: Any):
        if self._bundle:
            bundle(self._bundle)  # a clear error when the front end was never built
        allowed = set(self.class_trait_names(sync=lambda v: v)) | {"layout"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {unknown}; "
                f"valid ones are {sorted(k for k in allowed if not k.startswith('_'))}"
            )
        super().__init__(**kwargs)

    _progress_interval = 0.25
    """Seconds between job-progress updates sent to the browser (each is a comm message)."""
    _progress_sent = 0.0

    def _due(self) -> bool:
        """True at most once per ``_progress_interval``: the throttle of every live update a
        running job sends to the browser."""
        now = time.monotonic()
        if now - self._progress_sent < self._progress_interval:
            return False
        self._progress_sent = now
        return True

    def _throttled_progress(self, value: float) -> None:
        """Set the view's ``progress`` trait, at most once per ``_progress_interval``."""
        if self._due():
            self.progress = float(value)

    def _report(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)

    def _apply(self, values: dict, names: tuple[str, ...]) -> bool:
        """Set the traits ``names`` present in ``values``, from a browser request that carries its
        form: ipywidgets may hold back a state update while an earlier one is pending, so a
        custom message can arrive before it. False when a value is refused (the view shows why)."""
        try:
            with self.hold_trait_notifications():
                for name in names:
                    if name in values:
                        setattr(self, name, values[name])
        except traitlets.TraitError as e:
            self.error = str(e)  # the held changes, the validator's message too, were rolled back
            return False
        return True

    def _reject(self, msg: str) -> NoReturn:
        """Show ``msg`` in the view and refuse the trait value with it."""
        self.error = msg
        raise traitlets.TraitError(msg)

    def _one_of(self, proposal, choices, what: str | None = None):
        """A validator's answer for a trait that takes one of ``choices``: the value, or a
        refusal naming it and the choices ("unknown <what> 'x'; choose one of [...]"; ``what``
        defaults to the trait's name)."""
        value = proposal["value"]
        if value not in choices:
            self._reject(f"unknown {what or proposal['trait'].name} {value!r}; choose one of {list(choices)}")
        return value


class RunsJob:
    """Mixin of a view that runs one background :class:`Job` at a time (``self.job``) and says
    what it does in its ``message`` trait.

    Views with the job traits ``state``, ``progress``, ``message`` and ``error`` and a
    ``_settled`` event hand a started job to :meth:`_follow`, which shows its progress and its
    end: ``_job_done(result)`` shows a result; ``_job_cancelled`` and ``_job_failed`` say what
    was stopped or failed; ``_progress_event`` is the job's event type that carries
    ``progress``."""

    job: Job | None = None
    _progress_event: ClassVar[str] = "step"
    _job_cancelled: ClassVar[str] = "cancelled"
    """str: the message shown when the job is cancelled (say how to run it again)."""
    _job_failed: ClassVar[str] = "the job failed"
    """str: the start of the error shown when the job fails (its error follows)."""

    def _follow(self, job: Job, message: str) -> Job:
        """Make ``job`` the view's job: state "running" with ``message``, its events shown."""
        self.job = job
        with self.hold_sync():
            self.state, self.progress, self.error = "running", 0.0, ""
            self.message = message
        job.on_event(lambda ev: self._on_job_event(job, ev))
        return job

    def _on_job_event(self, job: Job, ev: dict) -> None:
        if job is not self.job:
            return  # a job the view has moved on from
        kind = ev.get("type")
        try:
            if kind == self._progress_event and "progress" in ev:
                self._job_progress(ev)
            elif kind == "done":
                self._job_done(job.result())
            elif kind == "cancelled":
                with self.hold_sync():
                    self.state, self.message = "cancelled", self._job_cancelled
            elif kind == "failed":
                with self.hold_sync():
                    self.state, self.message = "failed", ""
                    self.error = f"{self._job_failed}: {ev.get('error', 'unknown error')}"
        finally:
            if kind in ("done", "cancelled", "failed"):
                self._settled.set()

    def _job_progress(self, ev: dict) -> None:
        self._throttled_progress(ev["progress"])

    def _job_done(self, result: Any) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Ask the running job to stop (a cancelled job keeps nothing); what the view shows stays."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
            self.message = "cancelling…"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended and the view shows its outcome; True when it has (views
        that offer it set ``self._settled``, a ``threading.Event``, once the outcome is shown)."""
        return self._settled.wait(timeout)


class Paged(traitlets.HasTraits):
    """Traits of a view that pages through images sent as one PNG atlas (mixed into a View)."""

    page = traitlets.Int(0).tag(sync=True)
    """int: current page (0-based)."""
    page_size = traitlets.Int(24).tag(sync=True)
    """int: images per page."""
    total = traitlets.Int(0).tag(sync=True)
    """int: number of images to page through."""
    atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG sprite atlas of the page's images, cell k at (k % atlas_cols, k // atlas_cols)
    (a PNG file, not an array: ``atlas_cols`` and ``cell`` describe its layout)."""
    atlas_cols = traitlets.Int(1).tag(sync=True)
    """int: columns of the atlas."""
    cell = traitlets.Int(48).tag(sync=True)
    """int: atlas cell size in pixels."""

    @traitlets.validate("page_size")
    def _check_page_size(self, proposal):
        if proposal["value"] < 1:
            self._reject(f"page_size must be positive, got {proposal['value']}")
        return proposal["value"]


def resolve_version(engine: Engine, version: ModelVersion | str | Job | None) -> ModelVersion:
    """The version a view should show: a record, an id, a finished Job, or the latest one."""
    if version is None:
        if engine.active is None:
            raise ValueError("the engine has no trained version yet; call engine.train() first")
        return engine.active
    if isinstance(version, Job):
        if version.status == "failed":
            raise ValueError(f"that version failed to train: {version.events[-1].get('error', '')}")
        if version.status == "cancelled":
            raise ValueError("that training job was cancelled; it made no version")
        if not version.done:
            raise ValueError("that version is still training; wait for job.result()")
        version = version.result()
    return engine.version(version)


class EngineView(View):
    """A view of one Engine's images as one version sees them.

    Subclasses set ``_bundle``, call ``super().__init__(engine, version, **traits)`` and then set
    ``self.version = self.initial_version.id`` once they are ready to load data. A view made
    without a version shows the engine's active version and follows it when it changes (a
    ClassifierBoard switch, a new version while none is pinned).
    """

    _follows_active = True

    version = traitlets.Unicode("").tag(sync=True)
    """str: id of the version shown; linked views follow it."""
    selection = Indices().tag(sync=True)
    """list of int: selected image indices (dataset order); linked views share it."""
    focus = traitlets.Int(-1).tag(sync=True)
    """int: index of the image clicked last (-1: none)."""

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None, **kwargs: Any):
        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a dashwidgets Engine, got {type(engine).__name__}")
        self._engine = engine
        self.initial_version = resolve_version(engine, version)
        super().__init__(**kwargs)
        if version is None and self._follows_active:
            engine.on("active", self._on_engine_active)

    def _on_engine_active(self, event: dict) -> None:
        new = event.get("new")
        if new and self.version and new != self.version:
            try:
                self.version = new
            except traitlets.TraitError:
                pass  # shown in the view by the validator

    @property
    def engine(self) -> Engine:
        return self._engine

    @traitlets.validate("selection")
    def _check_selection(self, proposal):
        return self._valid_selection(proposal["value"])

    @traitlets.validate("version")
    def _check_version(self, proposal):
        return self._valid_version(proposal["value"])

    @traitlets.validate("focus")
    def _check_focus(self, proposal):
        value = proposal["value"]
        if value != -1 and not 0 <= value < len(self._engine.dataset):
            self._reject(f"focus index {value} out of range [0, {len(self._engine.dataset)})")
        return value

    # Validators shared by the views that show an engine's images (``self._engine``).
    def _valid_selection(self, value) -> list[int]:
        """Sorted unique image indices; checked with numpy (a lasso can select 10^6 points).
        A selection decoded from the browser (``SortedIndices``) is sorted, unique and
        non-negative already: only its largest index is checked."""
        n = len(self._engine.dataset)
        if isinstance(value, SortedIndices):
            if not value.indices or value.indices[-1] < n:
                return value.indices
            arr = np.asarray(value.indices)
        else:
            arr = np.asarray(value if isinstance(value, list) else list(value))
        if arr.size == 0:
            return []
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            self._reject(f"selection must be image indices (integers), got {arr.dtype} values")
        bad = arr[(arr < 0) | (arr >= n)]
        if bad.size:
            self._reject(
                f"selection indices out of range [0, {n}): {bad[:5].tolist()}" + (" ..." if bad.size > 5 else "")
            )
        return sorted_unique(arr).tolist()

    def _valid_version(self, value) -> str:
        try:
            return self._engine.version(value).id
        except (ValueError, TypeError) as e:
            self._reject(str(e))
