"""The detail of the focused image (large, its bias mask, its attribution map, its prediction under
every version), shared by the views that open one: the ImageGallery's detail panel and the
SubgroupPanel's Grad-CAM window (front end: js/lib/detail.js)."""

from __future__ import annotations

import numpy as np
import traitlets

from ._codec import Array


class Detail(traitlets.HasTraits):
    """Traits and rendering of the focused image's detail (mixed into an EngineView: it reads
    ``focus`` and ``version`` and asks :meth:`Engine.image_detail`; errors go to ``error``)."""

    detail_method = traitlets.Unicode("gradcam").tag(sync=True)
    """str: attribution method of the detail panel's map."""
    detail = traitlets.Dict().tag(sync=True)
    """dict: the focused image (``{}``: none): index, version, label, split, method, tags,
    history (one dict per version: version, prediction, confidence, correct), heat_min, heat_max."""
    detail_image = Array("uint8", (None, None, 3)).tag(sync=True)
    """uint8 [H, W, 3]: the focused image."""
    detail_mask = Array("uint8", (None, None)).tag(sync=True)
    """uint8 [H, W]: its ground-truth bias mask (1 = bias region); [0, 0] when the dataset has none."""
    detail_heat = Array("float32", (None, None)).tag(sync=True)
    """float32 [H, W]: its attribution map for the predicted class under ``version``."""

    @traitlets.observe("focus", "version", "detail_method")
    def _on_focus(self, change) -> None:
        self._render_detail()

    def _render_detail(self) -> None:
        if not self.version:
            return
        if self.focus < 0:
            with self.hold_sync():
                self.detail = {}
                self.detail_image = self.detail_mask = self.detail_heat = np.zeros(0, np.uint8)
            return
        try:
            d = self._engine.image_detail(self.focus, self.version, self.detail_method)
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return
        heat = d["heat"]
        meta = {k: d[k] for k in ("index", "version", "label", "split", "method", "tags", "history")}
        meta["heat_min"], meta["heat_max"] = float(heat.min()), float(heat.max())
        mask = d["bias_mask"]
        with self.hold_sync():
            self.detail_image = d["image"]
            self.detail_mask = np.zeros((0, 0), np.uint8) if mask is None else mask.astype(np.uint8)
            self.detail_heat = heat
            self.detail = meta
