"""MosaicView and TraceView: how versions differ, image by image (DASH)."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..audit.compare import CHANGES
from ..engine.engine import Engine
from ._base import EngineView
from ._codec import Array

FILTERS = ("all", *CHANGES)


class _VersionsView(EngineView):
    """A view of several versions at once: ``versions`` replaces the single ``version`` (which
    ``dw.link`` leaves alone for these views)."""

    _link_version = False
    _follows_active = False
    versions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    split = traitlets.Unicode("test").tag(sync=True)
    """str: split whose images are compared ("" for all images)."""
    classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    index = Array("uint32").tag(sync=True)
    """ndarray: ``[M] uint32`` dataset indices of the compared images."""
    labels = Array("uint16").tag(sync=True)
    """ndarray: ``[M] uint16`` true classes."""

    _allow_fewer = False  # a following TraceView waits for a second version

    def __init__(self, engine: Engine, versions, split: str, **kwargs: Any):
        if isinstance(engine, Engine) and len(engine.versions) < 2 and not self._allow_fewer:
            raise ValueError(f"{type(self).__name__} needs at least two versions; the engine has {len(engine.versions)}")
        super().__init__(engine, None, **kwargs)
        self.classes = list(engine.dataset.classes)
        self.split = split or ""
        self.versions = versions

    @traitlets.validate("versions")
    def _check_versions(self, proposal):
        ids = []
        for v in proposal["value"]:
            try:
                ids.append(self._engine.version(v).id)
            except (ValueError, TypeError) as e:
                self._reject(str(e))
        if len(ids) < 2 and not self._allow_fewer:
            self._reject(f"pick at least two versions to compare, got {ids}")
        return ids

    @traitlets.validate("split")
    def _check_split(self, proposal):
        value = proposal["value"]
        if value and not len(self._engine.dataset.indices(value)):
            self._reject(f"split {value!r} has no images")
        return value


    @traitlets.observe("versions", "split")
    def _on_versions(self, change) -> None:
        try:
            self._load()
            self.error = ""
        except Exception as e:  # noqa: BLE001 - shown in the view
            self._report(e)

    def _load(self) -> None:
        raise NotImplementedError


class MosaicView(_VersionsView):
    """DASH's Mosaic View: the confusion matrices of two versions as a mosaic.

    One column per true class (width ∝ its images), one cell per predicted class (height ∝
    count under version ``b``). Colour is the change from ``a`` to ``b``: red where ``b`` got
    more right (more on the diagonal, fewer off it), blue where it got more wrong, as in DASH.
    Hover shows both counts; click selects the cell's images, ctrl/cmd-click adds cells;
    ``selection`` links with the gallery and projection.

    Parameters
    ----------
    engine : Engine
    a, b : version or id, optional
        Default: the two latest versions (a older).
    split : str
        Default "test" (the unbiased split of the embedded benchmarks).
    """

    _bundle = "mosaic"
    pred_a = Array("uint16").tag(sync=True)
    """ndarray: ``[M] uint16`` predictions of version a."""
    pred_b = Array("uint16").tag(sync=True)
    """ndarray: ``[M] uint16`` predictions of version b."""
    accuracy = traitlets.List(traitlets.Float()).tag(sync=True)
    """list of float: accuracy of a and b on the split."""

    def __init__(self, engine: Engine, a=None, b=None, split: str = "test", **kwargs: Any):
        vs = engine.versions if isinstance(engine, Engine) else []
        pair = [a if a is not None else (vs[-2] if len(vs) >= 2 else None), b if b is not None else (vs[-1] if vs else None)]
        pair = [getattr(v, "id", v) for v in pair if v is not None]
        super().__init__(engine, pair, split, **kwargs)

    @traitlets.validate("versions")
    def _check_versions(self, proposal):
        ids = super()._check_versions(proposal)
        if len(ids) != 2:
            self._reject(f"the mosaic compares exactly two versions, got {ids}")
        return ids

    def comparison(self):
        """The :class:`~dashwidgets.audit.Comparison` shown."""
        return self._engine.compare(self.versions[0], self.versions[1], self.split or None)

    def _load(self) -> None:
        cmp = self.comparison()
        with self.hold_sync():
            self.index = cmp.indices
            self.labels = cmp.labels
            self.pred_a = cmp.pred_a
            self.pred_b = cmp.pred_b
            self.accuracy = [cmp.accuracy_a, cmp.accuracy_b]


class TraceView(_VersionsView):
    """DASH's Trace View: every image across an ordered list of versions.

    One column per version; an image is a point in the upper row when that version classifies
    it correctly, in the lower row when not. Lines join an image's points: red when it became
    correct, blue when it became wrong, grey when unchanged. ``filter`` keeps "became right",
    "became wrong", "always wrong" (edge cases no version gets right), "always right" or "mixed"
    images; clicking a point sets ``focus``; "Select shown" sets ``selection``.

    Parameters
    ----------
    engine : Engine
    versions : list of versions or ids, optional
        Default: every version, oldest first, following new and discarded versions.
    split : str
        Default "test".
    """

    _bundle = "trace"
    correct = Array("uint8", (None, None)).tag(sync=True)
    """ndarray: ``[M, V] uint8`` 1 where version v classifies image m correctly."""
    pred = Array("uint16", (None, None)).tag(sync=True)
    """ndarray: ``[M, V] uint16`` predicted classes."""
    filter = traitlets.Unicode("all").tag(sync=True)
    """str: "all" or one of "became right", "became wrong", "always wrong", "always right", "mixed"."""
    counts = traitlets.Dict().tag(sync=True)
    """dict: number of images per change."""

    def __init__(self, engine: Engine, versions=None, split: str = "test", **kwargs: Any):
        self._follow_all = versions is None
        self._allow_fewer = self._follow_all  # following: shows a hint until a second version exists
        vs = engine.versions if versions is None and isinstance(engine, Engine) else (versions or [])
        super().__init__(engine, [getattr(v, "id", v) for v in vs], split, **kwargs)
        if self._follow_all:
            engine.on("version", self._on_engine_versions)
            engine.on("discard", self._on_engine_versions)

    def _on_engine_versions(self, event: dict) -> None:
        ids = [v.id for v in self._engine.versions]
        if ids != self.versions:
            self.versions = ids

    @traitlets.validate("filter")
    def _check_filter(self, proposal):
        return self._one_of(proposal, FILTERS)

    def trace(self):
        """The :class:`~dashwidgets.audit.Trace` shown."""
        return self._engine.trace(self.versions, self.split or None)

    def shown(self) -> np.ndarray:
        """Indices of the images the current filter keeps."""
        tr = self.trace()
        return tr.indices if self.filter == "all" else tr.filter(self.filter)

    def _load(self) -> None:
        if len(self.versions) < 2:
            with self.hold_sync():
                empty = np.zeros(0, np.uint8)
                self.index = self.labels = self.correct = self.pred = empty
                self.counts = {}
            return
        tr = self.trace()
        change = tr.change
        with self.hold_sync():
            self.index = tr.indices
            self.labels = tr.labels
            self.correct = tr.correct
            self.pred = tr.pred
            self.counts = {c: int((change == c).sum()) for c in CHANGES}
