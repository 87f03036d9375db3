"""ImageGallery: the images of the current selection, with label, prediction and confidence."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, Paged, cell_size

SORT_BY = ("index", "confidence", "loss")


class ImageGallery(Paged, EngineView):
    """Pages through the selected images of one version.

    Each item shows the image, its label, the predicted class and the confidence (as text, never
    HTML). Sort by index, confidence or loss; click an image to set ``focus``.

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

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, **kwargs: Any):
        super().__init__(engine, version, cell=cell_size(engine, 32, 96), **kwargs)
        self.version = self.initial_version.id

    # -------------------------------------------------------------- validation
    @traitlets.validate("sort_by")
    def _check_sort(self, proposal):
        if proposal["value"] not in SORT_BY:
            self._reject(f"unknown sort_by {proposal['value']!r}; choose one of {list(SORT_BY)}")
        return proposal["value"]



    # -------------------------------------------------------------- paging
    @traitlets.observe("selection", "sort_by", "descending", "version", "page_size")
    def _on_query(self, change) -> None:
        if change["name"] != "page" and self.page != 0:
            self.page = 0  # observer below renders
        else:
            self._render_page()

    @traitlets.observe("page")
    def _on_page(self, change) -> None:
        self._render_page()

    def ordered(self) -> np.ndarray:
        """``[M] int64`` selected indices in the current sort order."""
        idx = np.asarray(self.selection, dtype=np.int64)
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
            self.total = len(ordered)
            self.items = items
            self.atlas = png
            self.atlas_cols = cols
            if page != self.page:
                self.page = page
            self.error = ""
