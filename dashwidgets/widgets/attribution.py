"""AttributionGrid: attribution maps of the selected images, rows original / heatmap / overlay."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

from ..engine.engine import Engine
from ..explain.attribution import METHODS
from ..models.layers import conv_layers
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png, heat_thumbnails
from ._base import EngineView, Paged, cell_size
from ._codec import Array

CAM_METHODS = ("gradcam", "scorecam")
COLORMAPS = ("jet", "viridis", "inferno", "gray")
TARGETS = ("pred", "label")


class AttributionGrid(Paged, EngineView):
    """Attribution maps of the selected images (DASH's Grad-CAM view).

    One column per image: the image, its heatmap, and the heatmap over the image; label and
    prediction as text, and per-image RMA/RRA on the dataset's ground-truth masks when it has
    them. Maps are computed by the engine on demand (one page at a time, with progress) and
    cached there, so switching back to a method recomputes nothing. Colormap and opacity are
    applied in the browser.

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Default: the latest version.
    method : {"gradcam", "scorecam", "ig", "lrp"}
    """

    _bundle = "attribution"

    method = traitlets.Unicode("gradcam").tag(sync=True)
    """str: attribution method (see ``Engine.attribute``)."""
    methods = traitlets.List(traitlets.Unicode(), default_value=list(METHODS)).tag(sync=True)
    """list of str: the methods offered (read-only)."""
    layer = traitlets.Unicode("").tag(sync=True)
    """str: conv layer for CAM methods ("": the model's last conv layer)."""
    layers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: the version's conv layers (read-only)."""
    target = traitlets.Unicode("pred").tag(sync=True)
    """str: explain the "pred"icted class or the "label"."""
    colormap = traitlets.Unicode("jet").tag(sync=True)
    """str: "jet", "viridis", "inferno" or "gray" (browser only)."""
    opacity = traitlets.Float(0.5).tag(sync=True)
    """float: heatmap opacity in the overlay row, 0 to 1 (browser only)."""
    page_size = traitlets.Int(12).tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the page's images: index, label, pred, confidence, correct, and rma_/rra_<mask>."""
    heat = Array("uint8", (None, None, None)).tag(sync=True)
    """ndarray: ``[n, cell, cell] uint8`` heatmaps of the page (|relevance| over its 99.5th
    percentile, per image)."""
    rendered = traitlets.Unicode("").tag(sync=True)
    """str: "method|layer|target" of the maps in ``heat`` (what the browser shows)."""
    progress = traitlets.Float(1.0).tag(sync=True)
    """float: share of the page's maps computed (1: done)."""

    def __init__(
        self,
        engine: Engine,
        version: ModelVersion | str | Job | None = None,
        chunk: int = 4,
        **kwargs: Any,
    ):
        super().__init__(engine, version, cell=cell_size(engine, 64, 128), **kwargs)
        self._chunk = max(1, int(chunk))
        self.heat = np.zeros((0, self.cell, self.cell), np.uint8)
        self.layers = conv_layers(self._engine.model(self.initial_version))
        self.version = self.initial_version.id

    # -------------------------------------------------------------- validation
    @traitlets.validate("method")
    def _check_method(self, proposal):
        return self._one_of(proposal, sorted(METHODS), "attribution method")

    @traitlets.validate("layer")
    def _check_layer(self, proposal):
        value = proposal["value"]
        if value and self.layers and value not in self.layers:
            self._reject(f"no conv layer {value!r} in this model; choose one of {self.layers}")
        return value

    @traitlets.validate("target")
    def _check_target(self, proposal):
        if proposal["value"] not in TARGETS:
            self._reject(f"target must be one of {list(TARGETS)}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("colormap")
    def _check_colormap(self, proposal):
        return self._one_of(proposal, COLORMAPS)

    @traitlets.validate("opacity")
    def _check_opacity(self, proposal):
        if not 0.0 <= proposal["value"] <= 1.0:
            self._reject(f"opacity must be between 0 and 1, got {proposal['value']}")
        return proposal["value"]



    # -------------------------------------------------------------- rendering
    @traitlets.observe("selection", "version", "page_size")
    def _on_query(self, change) -> None:
        if self.page != 0:
            self.page = 0  # the page observer renders
        else:
            self._render()

    @traitlets.observe("page", "method", "layer", "target")
    def _on_page(self, change) -> None:
        self._render()

    def page_indices(self) -> np.ndarray:
        """``[n] int64`` indices of the images on the current page."""
        idx = np.asarray(self.selection, dtype=np.int64)
        pages = max(1, -(-len(idx) // self.page_size))
        page = min(max(self.page, 0), pages - 1)
        return idx[page * self.page_size : (page + 1) * self.page_size]

    def _render(self) -> None:
        if not self.version:
            return
        eng = self._engine
        rows = self.page_indices()
        layer = self.layer or None
        key = f"{self.method}|{self.layer}|{self.target}"
        try:
            if not len(rows):
                with self.hold_sync():
                    self.total, self.items, self.atlas = 0, [], b""
                    self.heat = np.zeros((0, self.cell, self.cell), np.uint8)
                    self.rendered, self.progress, self.error = key, 1.0, ""
                return
            layer = layer if self.method in CAM_METHODS else None
            self.progress = 0.0
            maps, scores = [], []
            for k in range(0, len(rows), self._chunk):
                part = rows[k : k + self._chunk]
                maps.append(eng.attribute(self.version, part, self.method, self.target, layer=layer, numpy=True))
                scores.append(eng.attribution_scores(self.version, part, self.method, self.target, layer=layer))
                self.progress = min(1.0, (k + len(part)) / len(rows))
            maps_all = np.concatenate(maps)
            table = pd.concat(scores)
            ev = eng.evaluate(self.version)
            classes = eng.dataset.classes
            items = []
            for j, i in enumerate(rows):
                item = {
                    "index": int(i),
                    "label": classes[int(ev.labels[i])],
                    "pred": classes[int(ev.pred[i])],
                    "confidence": round(float(ev.confidence[i]), 4),
                    "correct": bool(ev.correct[i]),
                }
                for col in table.columns:
                    value = float(table[col].iloc[j])
                    item[col] = None if not np.isfinite(value) else round(value, 4)
                items.append(item)
            png, cols = atlas_png(eng.dataset.images[rows], self.cell)
            heat = heat_thumbnails(maps_all, self.cell)
        except Exception as e:  # noqa: BLE001 - shown in the view
            self.progress = 1.0
            self._report(e)
            return
        with self.hold_sync():
            self.total = len(self.selection)
            self.items = items
            self.atlas = png
            self.atlas_cols = cols
            self.heat = heat
            self.rendered = key
            self.error = ""

