"""ImageGallery: the images of the current selection, with label, prediction and confidence;
filters, tags (named, saved selections), CSV export and a large detail panel of the focused image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd
import traitlets

from ..engine.engine import Engine
from ..explain.attribution import METHODS
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, Paged, cell_size
from ._detail import Detail
from ._snapshot import ImageSnapshot, snapshot_for

SORT_BY = ("index", "confidence", "loss")
SPLITS = ("", "train", "val", "test")
CORRECT = ("", "correct", "wrong")
FILTERS = ("filter_label", "filter_pred", "filter_split", "filter_correct", "filter_tag")


class ImageGallery(Paged, Detail, EngineView):
    """Pages through the selected images of one version.

    Each item shows the image, its label, the predicted class and the confidence (as text, never
    HTML). Sort by index, confidence or loss; filter by label, prediction, split, correctness and
    tag (the engine's :meth:`~Engine.filter`); click an image to set ``focus`` and see it large
    with its bias mask, its attribution map and its prediction under every version
    (:meth:`~Engine.image_detail`). The filters apply to the selection, or to all images when
    nothing is selected and a filter is set. Tag the selection, select a tag's images, and
    export what is shown (:meth:`to_dataframe`, :meth:`to_csv`, or "Export CSV" in the browser).
    Keys, while the gallery has focus: ``→``/``n`` next page, ``←``/``p`` previous page, ``Esc``
    clear the selection. Without a kernel (an exported page) it pages, sorts and filters from the
    engine's image snapshot (:func:`~dashwidgets.set_image_budget`); tags, CSV export and the
    detail panel need the kernel.

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Default: the latest version.
    """

    _bundle = "gallery"

    sort_by = traitlets.Unicode("index").tag(sync=True)
    """str: "index", "confidence" or "loss"."""
    descending = traitlets.Bool(False).tag(sync=True)
    """bool: reverse the sort order."""
    page_size = traitlets.Int(40).tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the page's images: index, label, pred, confidence, loss, correct."""
    filter_label = traitlets.Unicode("").tag(sync=True)
    """str: show only images of this true class ("" = any)."""
    filter_pred = traitlets.Unicode("").tag(sync=True)
    """str: show only images predicted as this class ("" = any)."""
    filter_split = traitlets.Unicode("").tag(sync=True)
    """str: "train", "val", "test" or "" (any)."""
    filter_correct = traitlets.Unicode("").tag(sync=True)
    """str: "correct", "wrong" or "" (any)."""
    filter_tag = traitlets.Unicode("").tag(sync=True)
    """str: show only images of this tag ("" = any)."""
    base_total = traitlets.Int(0).tag(sync=True)
    """int: images the filters apply to (the selection, or all images); ``total`` of them are shown."""
    classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: the dataset's class names (the filters' choices)."""
    tags = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the engine's tags, ``{"name", "count"}``, sorted by name."""
    snapshot = traitlets.Instance(ImageSnapshot, allow_none=True).tag(sync=True, **ipywidgets.widget_serialization)
    """ImageSnapshot or None: the engine's shared thumbnails and per-image facts (see
    ``widgets/_snapshot.py``; its size follows ``dw.set_image_budget`` /
    ``DASHWIDGETS_IMAGE_BUDGET_MB``). Without a kernel (an exported page, a stopped kernel) the
    browser pages, sorts and filters the selection from it; tags and CSV export need the kernel."""

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, **kwargs: Any):
        classes = list(engine.classes) if isinstance(engine, Engine) else []
        if isinstance(engine, Engine) and "snapshot" not in kwargs:
            kwargs["snapshot"] = snapshot_for(engine)
        super().__init__(engine, version, cell=cell_size(engine, 32, 96), classes=classes, **kwargs)
        self._sync_tags()
        engine.on("tags", self._on_tags)
        self.on_msg(self._on_msg)
        self.version = self.initial_version.id

    # -------------------------------------------------------------- validation
    _CHOICES = {"sort_by": SORT_BY, "filter_split": SPLITS, "filter_correct": CORRECT, "detail_method": sorted(METHODS)}
    """The choices of each trait that takes one of a fixed list."""

    @traitlets.validate("sort_by", "filter_split", "filter_correct", "detail_method")
    def _check_choice(self, proposal):
        return self._one_of(proposal, self._CHOICES[proposal["trait"].name])

    @traitlets.validate("filter_label", "filter_pred")
    def _check_class_filter(self, proposal):
        value = proposal["value"]
        if value and value not in self._engine.classes:
            self._reject(f"unknown class {value!r} for {proposal['trait'].name}; classes are {self._engine.classes}")
        return value

    @traitlets.validate("filter_tag")
    def _check_tag_filter(self, proposal):
        value = proposal["value"]
        if value and value not in self._engine.tags:
            self._reject(f"unknown tag {value!r}; tags are {list(self._engine.tags) or 'none yet'}")
        return value

    # -------------------------------------------------------------- paging
    @traitlets.observe("selection", "sort_by", "descending", "version", "page_size", *FILTERS)
    def _on_query(self, change) -> None:
        if self.page != 0:
            self.page = 0  # observer below renders
        else:
            self._render_page()

    @traitlets.observe("version")
    def _on_snapshot_version(self, change) -> None:
        if self.snapshot is not None and change["new"]:
            self.snapshot.add_version(change["new"])

    @traitlets.observe("page")
    def _on_page(self, change) -> None:
        self._render_page()

    def filtering(self) -> bool:
        """True when any filter is set."""
        return any(getattr(self, f) for f in FILTERS)

    def _base(self) -> np.ndarray | None:
        """The images the filters apply to: the selection; all images (None) when nothing is
        selected and a filter is set; none otherwise."""
        if self.selection:
            return np.asarray(self.selection, dtype=np.int64)
        return None if self.filtering() else np.zeros(0, np.int64)

    def shown(self) -> np.ndarray:
        """``[M] int64`` the images the gallery pages through: the base (see the class
        docstring) filtered by the engine, in dataset order."""
        base = self._base()
        if base is not None and not len(base):
            return base
        return self._engine.filter(
            self.version, base, label=self.filter_label or None, pred=self.filter_pred or None,
            split=self.filter_split or None, correct=self.filter_correct or None, tag=self.filter_tag or None,
        )

    def ordered(self) -> np.ndarray:
        """``[M] int64`` shown indices (see :meth:`shown`) in the current sort order."""
        idx = self.shown()
        if not len(idx) or self.sort_by == "index":
            order = idx
        else:
            ev = self._engine.evaluate(self.version)
            key = ev.confidence[idx] if self.sort_by == "confidence" else ev.loss[idx]
            order = idx[np.argsort(key, kind="stable")]
        return order[::-1] if self.descending else order

    def _render_page(self) -> None:
        if not self.version:
            return
        try:
            ordered = self.ordered()
            base = self._base()
            pages = max(1, -(-len(ordered) // self.page_size))
            page = min(max(self.page, 0), pages - 1)
            rows = ordered[page * self.page_size : (page + 1) * self.page_size]
            ev = self._engine.evaluate(self.version)
            classes = self._engine.dataset.classes
            items = [
                {
                    "index": int(i),
                    "label": classes[int(ev.labels[i])],
                    "pred": classes[int(ev.pred[i])],
                    "confidence": round(float(ev.confidence[i]), 4),
                    "loss": round(float(ev.loss[i]), 4),
                    "correct": bool(ev.correct[i]),
                }
                for i in rows
            ]
            png, cols = atlas_png(self._engine.dataset.images[rows], self.cell) if len(rows) else (b"", 1)
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return
        with self.hold_sync():
            self.base_total = len(self._engine.dataset) if base is None else len(base)
            self.total = len(ordered)
            self.items = items
            self.atlas = png
            self.atlas_cols = cols
            if page != self.page:
                self.page = page
            self.error = ""

    # -------------------------------------------------------------- tags
    def _sync_tags(self) -> None:
        self.tags = [{"name": k, "count": len(v)} for k, v in self._engine.tags.items()]

    def _on_tags(self, event: dict) -> None:
        self._sync_tags()
        if self.filter_tag and self.filter_tag not in self._engine.tags:
            self.filter_tag = ""  # its tag is gone; the observer re-renders
        elif self.filter_tag:
            self._render_page()
        if self.focus >= 0 and self.detail:
            self._render_detail()

    def tag_selection(self, name: str) -> list[int]:
        """Tag the selected images ``name`` (see :meth:`Engine.tag`); returns the tag's indices."""
        return self._engine.tag(name, self.selection)

    def select_tag(self, name: str) -> None:
        """Select the images of tag ``name`` (linked views follow)."""
        if name not in self._engine.tags:
            raise ValueError(f"unknown tag {name!r}; tags are {list(self._engine.tags) or 'none yet'}")
        self.selection = self._engine.tags[name]

    # -------------------------------------------------------------- export
    def to_dataframe(self) -> pd.DataFrame:
        """The images shown (all pages, in the gallery's order) as :meth:`Engine.frame` rows:
        index, split, label, prediction, confidence, correct, tags."""
        return self._engine.frame(self.ordered(), self.version)

    def to_csv(self, path: str | Path) -> Path:
        """Write :meth:`to_dataframe` to ``path`` (CSV, no row index); returns the path."""
        path = Path(path)
        self.to_dataframe().to_csv(path, index=False)
        return path

    # -------------------------------------------------------------- browser actions
    def _on_msg(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        name = content.get("name", "") if isinstance(content, dict) else ""
        try:
            if action == "tag":
                if self._apply(content.get("form") or {}, ("selection",)):
                    self.tag_selection(name)
                    self.error = ""
            elif action == "untag":
                self._engine.untag(name)
            elif action == "select_tag":
                self.select_tag(name)
            elif action == "export":
                csv = self.to_dataframe().to_csv(index=False)
                self.send({"type": "csv", "name": f"gallery-{self.version}.csv", "text": csv})
        except Exception as e:  # noqa: BLE001 - shown in the view, the kernel lives
            self._report(e)
