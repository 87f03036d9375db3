"""ProjectionView: the t-SNE map of one version, DASH's door into every audit."""

from __future__ import annotations

from typing import Any

import ipywidgets
import numpy as np
import traitlets

from ..datasets.imageset import SPLITS
from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView
from ._codec import Array
from ._snapshot import ImageSnapshot, snapshot_for, snapshot_ready


def _running_cell() -> Any:
    """The IPython kernel's shell while it runs a cell (its current message is an
    ``execute_request``), else None: plain Python, marimo, or a widget callback (a ``comm_msg``,
    e.g. a dashboard tab opened by a click), after which no ``post_run_cell`` event follows."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipywidgets depends on IPython
        return None
    shell = get_ipython()
    parent = getattr(shell, "parent_header", None)
    if not hasattr(shell, "events") or not isinstance(parent, dict):
        return None
    return shell if parent.get("header", {}).get("msg_type") == "execute_request" else None


COLOR_BY = ("class", "predicted", "correct", "split", "aligned", "loss")
_MAX_THUMBS_PER_REQUEST = 2000


class ProjectionView(EngineView):
    """t-SNE map of one model version's embeddings, with DASH's encoding.

    Circle = correct, cross = wrong; fill = true class, stroke = predicted class (colour-by
    "class"); density contours per split; zoom in far enough and points become their images.
    Drag draws a lasso (or a box, or pans: toolbar); shift adds to the selection, alt removes.
    A lasso or box selects only points of the splits in ``select_splits`` that are also shown
    (``visible_splits``): hiding a split never lets its points into a selection.

    Keys, while the map has focus (click it; its "⌨ ?" button lists them): ``l`` lasso, ``b``
    box, ``p`` pan, ``r`` reset the view, ``Esc`` clear the selection.

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Default: the latest version.
    splits : list of str, optional
        Splits shown at first (default: all).
    select_splits : list of str, optional
        Splits a lasso / box / click selects in (default: all); e.g. ``["train"]`` to pick
        augmentation sources, which must be training images.
    color_by : str
        One of ``"class"``, ``"predicted"``, ``"correct"``, ``"split"``, ``"aligned"`` (datasets with
        that attribute), ``"loss"``.
    mode : {"transform", "aligned"}
        How versions after the first join the same map (see :meth:`Engine.project`).
    """

    _bundle = "projection"

    classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: class names (rendered as text)."""
    xy = Array("float32", (None, 2)).tag(sync=True)
    """ndarray: float32 [N, 2] t-SNE coordinates."""
    label = Array("uint16", wire_narrow="uint8").tag(sync=True)
    """ndarray: uint16 [N] true class (sent as uint8 when every code fits)."""
    pred = Array("uint16", wire_narrow="uint8").tag(sync=True)
    """ndarray: uint16 [N] predicted class (sent as uint8 when every code fits)."""
    correct = Array("uint8").tag(sync=True)
    """ndarray: uint8 [N] 1 when the prediction is right."""
    split_code = Array("uint8").tag(sync=True)
    """ndarray: uint8 [N] 0 train, 1 val, 2 test."""
    aligned = Array("uint8").tag(sync=True)
    """ndarray: uint8 [N] 1 when the image carries its class's spurious feature ([0] if unknown)."""
    loss = Array("float32").tag(sync=True)
    """ndarray: float32 [N] per-image cross-entropy (see ``_defer_stats``: sent after the cell)."""
    confidence = Array("float32").tag(sync=True)
    """ndarray: float32 [N] probability of the predicted class (sent with ``loss``)."""
    density = Array("float32", (len(SPLITS), None, None)).tag(sync=True)
    """ndarray: float32 [3, G, G] smoothed density per split, each scaled to max 1 (``Engine.density``)."""
    density_box = traitlets.List(traitlets.Float()).tag(sync=True)
    """list of float: [x0, x1, y0, y1] area covered by the density grids."""
    density_size = traitlets.Int(64).tag(sync=True)
    """int: G, cells per side of each density grid."""
    visible_splits = traitlets.List(traitlets.Unicode(), default_value=list(SPLITS)).tag(sync=True)
    """list of str: splits drawn (toggle in the toolbar)."""
    select_splits = traitlets.List(traitlets.Unicode(), default_value=list(SPLITS)).tag(sync=True)
    """list of str: splits a lasso, box or click selects in (toolbar "lasso selects"); points of
    hidden splits are never selected. Default: all."""
    color_by = traitlets.Unicode("class").tag(sync=True)
    """str: fill colour encoding (see class docstring)."""
    color_options = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: colour encodings this dataset supports."""
    view_box = traitlets.List(traitlets.Float()).tag(sync=True)
    """list of float: [x0, x1, y0, y1] data range visible in the plot (set by the browser)."""
    max_thumbnails = traitlets.Int(600).tag(sync=True)
    """int: points turn into image thumbnails once at most this many are visible."""
    thumb_size = traitlets.Int(32).tag(sync=True)
    """int: pixel size of thumbnails in the atlas sent to the browser."""
    status = traitlets.Unicode("").tag(sync=True)
    """str: progress message (e.g. while t-SNE runs)."""
    height = traitlets.Int(520).tag(sync=True)
    """int: plot height in CSS pixels."""
    snapshot = traitlets.Instance(ImageSnapshot, allow_none=True).tag(sync=True, **ipywidgets.widget_serialization)
    """ImageSnapshot or None: the engine's shared thumbnail atlas (``widgets/_snapshot.py``; its first
    build runs at the end of the cell that made the view, see ``_attach_snapshot``);
    zoomed-in points draw from it without asking the kernel (images it leaves out are asked for)."""

    def __init__(
        self,
        engine: Engine,
        version: ModelVersion | str | Job | None = None,
        splits: list[str] | None = None,
        select_splits: list[str] | None = None,
        color_by: str = "class",
        mode: str = "transform",
        **kwargs: Any,
    ):
        if mode not in ("transform", "aligned"):
            raise ValueError(f"unknown projection mode {mode!r}; use 'transform' or 'aligned'")
        self._mode = mode
        ds = engine.dataset if isinstance(engine, Engine) else None
        options = [c for c in COLOR_BY if ds is not None and (c != "aligned" or "aligned" in ds.attributes)]
        h, w = ds.image_size if ds is not None else (32, 32)
        super().__init__(
            engine,
            version,
            color_options=options,
            classes=list(ds.classes) if ds is not None else [],
            thumb_size=int(min(64, max(h, w))),
            **kwargs,
        )
        self._defer_stats()  # first: post_run_cell sends them before building the snapshot
        if ds is not None and "snapshot" not in kwargs:
            self._attach_snapshot(engine)
        if splits is not None:
            self.visible_splits = list(splits)
        if select_splits is not None:
            self.select_splits = list(select_splits)
        self.color_by = color_by
        self.on_msg(self._on_custom_msg)
        self.version = self.initial_version.id  # triggers _load

    def _attach_snapshot(self, engine: Engine) -> None:
        """Point at the engine's image snapshot. Its first build (every thumbnail encoded into
        one WebP atlas: 1-2 s for 20k images) is not needed for the map's first frame, only once
        the user zooms in: in IPython it runs in the cell's ``post_run_cell`` event, after the
        cell has displayed the view (so the browser draws the points meanwhile) and still within
        the cell (so a notebook's saved widget state, as in ``dashwidgets export``, holds it)."""
        shell = _running_cell()
        if shell is None or snapshot_ready(engine):  # built already (or none wanted): no reason to wait
            self.snapshot = snapshot_for(engine)
            return

        def attach(*_args: Any) -> None:
            shell.events.unregister("post_run_cell", attach)
            if self.comm is None:  # closed meanwhile
                return
            try:
                self.snapshot = snapshot_for(engine)
            except Exception as e:  # noqa: BLE001 - shown in the view, the kernel lives on
                self._report(e)

        shell.events.register("post_run_cell", attach)

    _STATS = ("loss", "confidence")

    def _defer_stats(self) -> None:
        """Hold back ``loss`` and ``confidence`` (8 of the 23 MB at 10^6 points) while the cell
        that made the view runs: the first frame needs neither (they colour by loss and fill the
        tooltip and legend), and every byte sent before the view is displayed delays it. IPython's
        ``post_run_cell`` sends them, after the cell has displayed the view and still within it,
        so a saved widget state (``dashwidgets export``, nbclient) holds them. Outside a running
        cell they go at once."""
        shell = _running_cell()
        if shell is None:
            return
        self._held = set(self._STATS)

        def release(*_args: Any) -> None:
            shell.events.unregister("post_run_cell", release)
            self._held = set()
            if self.comm is not None:
                self.send_state(key=list(self._STATS))

        shell.events.register("post_run_cell", release)

    _held: set = set()

    def _should_send_property(self, key, value):  # ipywidgets' hook for each trait change
        if key in self._held:
            return False  # sent whole by _defer_stats's release
        return super()._should_send_property(key, value)

    # -------------------------------------------------------------- validation
    @traitlets.validate("color_by")
    def _check_color_by(self, proposal):
        value = proposal["value"]
        if value == "aligned" and value not in self.color_options:
            self._reject(
                f"color_by='aligned' needs an 'aligned' attribute, which dataset "
                f"{self._engine.dataset.name!r} does not have"
            )
        if value not in self.color_options:
            self._reject(f"unknown color_by {value!r}; choose one of {self.color_options}")
        return value

    @traitlets.validate("visible_splits", "select_splits")
    def _check_splits(self, proposal):
        name = proposal["trait"].name
        value = proposal["value"]  # traitlets has already made a lone string a one-item list
        bad = [s for s in value if s not in SPLITS]
        if bad:
            self._reject(f"{name}: unknown splits {bad}; expected some of {list(SPLITS)}")
        return [s for s in SPLITS if s in value]  # canonical order, no duplicates

    # -------------------------------------------------------------- data
    @traitlets.observe("version")
    def _on_version(self, change) -> None:
        self._load(change["new"])

    def _load(self, vid: str) -> None:
        eng = self._engine
        ds = eng.dataset
        try:
            ev = eng.evaluate(vid)
            if vid != eng.projection_reference:
                self.status = f"projecting {vid} (t-SNE; cached after the first time)…"
            xy = eng.project(vid, progress=False, mode=self._mode)
            grids, box = eng.density(vid, size=self.density_size, mode=self._mode)
        except Exception as e:  # noqa: BLE001 - shown in the view, the kernel lives on
            self.status = ""
            self._report(e)
            return
        aligned = ds.attributes.get("aligned")
        with self.hold_sync():
            self.xy = xy
            self.label = ds.labels
            self.pred = ev.pred
            self.correct = ev.correct
            self.split_code = ds.split_codes()  # for the wire: split name -> its index in SPLITS
            self.aligned = aligned if aligned is not None else np.zeros(0, np.uint8)
            self.loss = ev.loss
            self.confidence = ev.confidence
            self.density = grids
            self.density_box = [float(b) for b in box]
            self.status = ""
            self.error = ""

    def _on_custom_msg(self, _widget, content: dict, buffers) -> None:
        if not isinstance(content, dict) or content.get("type") != "thumbs":
            return
        try:
            idx = np.asarray(content.get("indices", []), dtype=np.int64)[:_MAX_THUMBS_PER_REQUEST]
            idx = self._engine.dataset.check_indices(idx)
            png, cols = atlas_png(self._engine.dataset.images[idx], self.thumb_size)
        except Exception as e:  # noqa: BLE001
            self._report(e)
            return
        self.send(
            {"type": "thumbs", "id": content.get("id"), "indices": idx.tolist(), "cols": cols, "size": self.thumb_size},
            [png],
        )

    # -------------------------------------------------------------- conveniences
    def coordinates(self) -> np.ndarray:
        """``[N, 2] float32`` coordinates currently shown."""
        return self.xy.copy()
