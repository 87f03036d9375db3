"""SubgroupPanel (VisCUIT Figure 1A): the under-performing subgroups of one version, worst first,
each a row of its images; a picked subgroup beside its paired well-performing one with both
confusion matrices; a Grad-CAM window of a clicked image."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..audit.subgroups import Subgroups
from ..engine.engine import Engine
from ..explain.attribution import METHODS
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, cell_size
from ._detail import Detail


class SubgroupPanel(Detail, EngineView):
    """The UDIS subgroups (:meth:`Engine.subgroups`) of one version that under-perform: accuracy
    below ``ratio`` (0.5) times the overall accuracy on ``split``.

    One row per under-performing subgroup, worst first: its id, size, accuracy and its images
    (at most ``per_row``, then "+N more"; a × marks each wrongly predicted one). Click a row to
    pick it: ``subgroup`` becomes its id, ``selection`` its members (so linked projections and
    galleries show them), and the panel shows its paired well-performing subgroup (the closest
    by mean embedding) and both confusion matrices side by side. Click an image: ``focus``
    becomes its dataset index and a Grad-CAM window shows it (:meth:`Engine.image_detail`).

    ``SubgroupPanel``, ``NeuronPanel`` and ``ConceptWindow`` take the same ``(engine, version,
    split, k, method)``: with the same arguments they see the same (cached) subgroups, so a
    ``subgroup`` id linked between them (``dw.link``) names the same images.

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Default: the engine's active version, followed when it changes.
    split : str or None
        "test" (default), "val", "train" or None (all images).
    k : int, optional
        Number of subgroups (default: the engine's rule of thumb for the split's size).
    method : str
        "kmeans" (default) or "hierarchical".

    Errors the engine raises for these (a k larger than the split, an unknown split or method)
    and for the Grad-CAM window (a model without conv layers) are shown in ``error``; the
    constructor does not raise for them, so they can be fixed in the view.
    """

    _bundle = "subgroups"

    split = traitlets.Unicode("test", allow_none=True).tag(sync=True)
    """str or None: the split whose images are clustered (None: all images)."""
    k = traitlets.Int(None, allow_none=True).tag(sync=True)
    """int or None: number of subgroups (None: the engine's default for the split's size)."""
    method = traitlets.Unicode("kmeans").tag(sync=True)
    """str: clustering method, "kmeans" or "hierarchical"."""
    per_row = traitlets.Int(12).tag(sync=True)
    """int: images shown per subgroup row (the rest are counted as "+N more")."""
    subgroup = traitlets.Int(-1).tag(sync=True)
    """int: id of the picked under-performing subgroup (-1: none); linked VisCUIT panels follow."""
    summary = traitlets.Dict().tag(sync=True)
    """dict: version, split, method, k, overall_accuracy, ratio, threshold (ratio × overall),
    n_under, n_images; ``{}`` while the subgroups could not be found (see ``error``)."""
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the under-performing subgroups, worst first (see :meth:`_row`): id, size,
    accuracy, label, label_share, prediction, prediction_share, wrong, more, offset, images
    (``{"index", "correct", "label", "pred"}`` each; atlas cell ``offset + k``)."""
    picked = traitlets.Dict().tag(sync=True)
    """dict: the picked subgroup (``{}``: none): id, pair (its row dict, with its images in
    ``pair_atlas``; None when no subgroup performs well), classes, confusion and pair_confusion
    (``[C][C]`` counts, rows true class, columns predicted class), max_count."""
    atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG sprite atlas of the rows' images, cell k at (k % atlas_cols, k // atlas_cols)."""
    atlas_cols = traitlets.Int(1).tag(sync=True)
    """int: columns of ``atlas``."""
    pair_atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG sprite atlas of the paired subgroup's images (laid out like ``atlas``)."""
    pair_atlas_cols = traitlets.Int(1).tag(sync=True)
    """int: columns of ``pair_atlas``."""
    cell = traitlets.Int(48).tag(sync=True)
    """int: atlas cell size in pixels."""

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, split: str | None = "test",
                 k: int | None = None, method: str = "kmeans", **kwargs: Any):
        self._sg: Subgroups | None = None
        super().__init__(engine, version, split=split, k=k, method=method, cell=cell_size(engine, 32, 64), **kwargs)
        self.version = self.initial_version.id  # observers below compute the subgroups

    # -------------------------------------------------------------- validation
    @traitlets.validate("per_row")
    def _check_per_row(self, proposal):
        if proposal["value"] < 1:
            self._reject(f"per_row must be at least 1 image, got {proposal['value']}")
        return proposal["value"]

    @traitlets.validate("detail_method")
    def _check_detail_method(self, proposal):
        return self._one_of(proposal, sorted(METHODS))

    @traitlets.validate("subgroup")
    def _check_subgroup(self, proposal):
        value = proposal["value"]
        if value == -1:
            return value
        if self._sg is None:
            self._reject(f"no subgroups to pick subgroup {value} from: {self.error or 'none found yet'}")
        if value not in self._sg.under:
            self._reject(f"subgroup {value} is not under-performing; pick one of {self._sg.under} or -1 (none)")
        return value

    # -------------------------------------------------------------- the subgroups
    def subgroups(self) -> Subgroups | None:
        """The :class:`Subgroups` shown (None while the engine refused the arguments)."""
        return self._sg

    @traitlets.observe("version", "split", "k", "method", "per_row")
    def _on_args(self, change) -> None:
        self._compute()

    def _compute(self) -> None:
        if not self.version:
            return
        self._sg = None
        self.subgroup = -1
        try:
            sg = self._engine.subgroups(self.version, k=self.k, split=self.split, method=self.method)
            rows, png, cols = self._rows(sg, sg.under)
        except Exception as e:  # noqa: BLE001 - shown in the view; the kernel lives
            with self.hold_sync():
                self.summary, self.rows, self.picked = {}, [], {}
                self.atlas, self.atlas_cols = b"", 1
                self._report(e)
            return
        self._sg = sg
        with self.hold_sync():
            self.summary = {
                "version": self.version, "split": self.split, "method": sg.method, "k": int(sg.k),
                "overall_accuracy": float(sg.overall_accuracy), "ratio": float(sg.ratio),
                "threshold": float(sg.ratio * sg.overall_accuracy), "n_under": len(sg.under),
                "n_images": int(len(sg.indices)),
            }
            self.rows = rows
            self.atlas, self.atlas_cols = png, cols
            self.error = ""

    def _row(self, sg: Subgroups, i: int, offset: int) -> tuple[dict, np.ndarray]:
        """Subgroup ``i`` as a row dict and the dataset indices of its shown images."""
        members = sg.members(i)
        ev = self._engine.evaluate(self.version)
        classes = self._engine.classes
        shown = members[: self.per_row]
        t = sg.table.loc[i]
        row = {
            "id": int(i), "size": int(t["size"]), "accuracy": float(t["accuracy"]),
            "label": str(t["label"]), "label_share": float(t["label_share"]),
            "prediction": str(t["prediction"]), "prediction_share": float(t["prediction_share"]),
            "wrong": int((~ev.correct[members]).sum()), "more": int(len(members) - len(shown)), "offset": offset,
            "images": [
                {"index": int(j), "correct": bool(ev.correct[j]), "label": classes[int(ev.labels[j])],
                 "pred": classes[int(ev.pred[j])]}
                for j in shown
            ],
        }
        return row, shown

    def _rows(self, sg: Subgroups, ids: list[int]) -> tuple[list[dict], bytes, int]:
        rows, shown, offset = [], [], 0
        for i in ids:
            row, idx = self._row(sg, i, offset)
            rows.append(row)
            shown.append(idx)
            offset += len(idx)
        idx = np.concatenate(shown) if shown else np.zeros(0, np.int64)
        png, cols = atlas_png(self._engine.dataset.images[idx], self.cell) if len(idx) else (b"", 1)
        return rows, png, cols

    # -------------------------------------------------------------- the picked subgroup
    @traitlets.observe("subgroup")
    def _on_subgroup(self, change) -> None:
        i, sg = self.subgroup, self._sg
        if i < 0 or sg is None:
            with self.hold_sync():
                self.picked, self.pair_atlas, self.pair_atlas_cols = {}, b"", 1
            return
        try:
            pair = sg.pair(i)
            confusion = sg.confusion(i)
            pair_confusion = sg.confusion(pair) if pair is not None else np.zeros_like(confusion)
            pair_rows, png, cols = self._rows(sg, [pair] if pair is not None else [])
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)
            return
        with self.hold_sync():
            self.pair_atlas, self.pair_atlas_cols = png, cols
            self.picked = {
                "id": int(i), "pair": pair_rows[0] if pair_rows else None, "classes": list(self._engine.classes),
                "confusion": confusion.tolist(), "pair_confusion": pair_confusion.tolist(),
                "max_count": int(max(confusion.max(), pair_confusion.max())),
            }
            self.selection = sg.members(i)
