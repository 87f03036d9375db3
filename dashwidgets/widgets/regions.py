"""RegionView: a region classifier's attributions (De Coninck et al., §3, Fig. 1-3): per image its
√p × √p region map and its pixel map over the image, the reliability diagram with the ECE, and a
quantile slider previewing what mitigation (§4.1) removes."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import traitlets

from ..augment.classical import check_quantile
from ..engine.engine import Engine
from ..engine.regions import RegionClassifier
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, Indices, RunsJob, View
from ._codec import Array

MAP_KINDS = ("specific", "general")
MITIGATIONS = ("mask", "noise")
DEFAULT_IMAGES = 6
"""Images shown when the view is made without ``images``: the first ones of the val split."""


def _num(x) -> float | None:
    """A float for JSON (None for NaN: an empty reliability bin)."""
    x = float(x)
    return None if np.isnan(x) else round(x, 6)


class RegionView(RunsJob, View):
    """A region classifier (:meth:`Engine.region_classifier`) on an engine's images.

    Per shown image: the image, its ``√p × √p`` region map (each cell a patch's confidence), its
    pixel map over the image (Algorithm 1) with a colour bar, and a preview of what mitigation
    at ``quantile`` removes: the pixels above the map's ``quantile`` (the paper's quantile: 0.7
    removes the top 30 %) greyed, from the image's own map (``map_kind="specific"``) or the mean
    map of the train split (``"general"``). The focused image is shown large. Beside them, the
    reliability diagram (accuracy per confidence bin against the diagonal, the share of patches
    per bin, the ECE) over every grid patch of ``split``'s images.

    The maps are the engine's (``rc.maps``, ``rc.region_maps``, ``rc.general_map``); the browser
    thresholds them at the quantile as ``eng.augment`` does, so the slider never asks the kernel.
    ``mitigate()`` (the Mitigate button): ``eng.augment`` on the selected train images.

    Parameters
    ----------
    engine : Engine
    rc : RegionClassifier, optional
        Shown at once. Without one, the view trains ``eng.region_classifier_async(attribute,
        patch, positions, epochs, ...)`` in a background job (progress bar, Cancel).
    attribute, patch, positions, epochs, lr, batch_size, confidence, seed, label_smoothing
        Passed to :meth:`Engine.region_classifier_async` (None: its default; ignored with ``rc``).
    images : indices, optional
        The initial ``selection`` (default: the first few val images).
    split : str
        Split whose patches the reliability diagram bins ("val").
    bins : int
        Reliability bins (the paper's Fig. 2 uses 100).

    The engine's refusals (a patch larger than the image, a position count that is no square, an
    unknown attribute or one with a single value) and a quantile outside (0, 1) are shown in the
    view's ``error``; :meth:`train` and trait assignments from Python raise them too. The
    constructor does not raise for them, so they can be fixed in the view.
    """

    _bundle = "regions"

    selection = Indices().tag(sync=True)
    """list of int: selected image indices (dataset order); the first ``max_images`` are shown.
    Linked views share it."""
    focus = traitlets.Int(-1).tag(sync=True)
    """int: index of the image shown large (-1: none); linked views share it."""
    quantile = traitlets.Float(0.7).tag(sync=True)
    """float in (0, 1): the map quantile above which mitigation changes pixels (0.7: top 30 %)."""
    map_kind = traitlets.Unicode("specific").tag(sync=True)
    """str: "specific" (each image's own map) or "general" (the train split's mean map)."""
    method = traitlets.Unicode("mask").tag(sync=True)
    """str: mitigation of the Mitigate button: "mask" (grey) or "noise" (Gaussian, sigma 0.5)."""
    bins = traitlets.Int(20).tag(sync=True)  # reliability bins (2 to 1000)
    max_images = traitlets.Int(8).tag(sync=True)
    """int: most images of the selection shown (the rest are counted)."""
    classifier = traitlets.Dict().tag(sync=True)
    """dict: the classifier shown ({} while none): key, attribute, patch, positions, grid (√p),
    classes (its target values as text), confidence, epochs, val_accuracy."""
    attributes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """list of str: targets a classifier can be trained for (the dataset's attributes, "label")."""
    train_args = traitlets.Dict().tag(sync=True)
    """dict: attribute, patch, positions of the classifier trained or asked for (the form's values)."""
    state = traitlets.Unicode("idle").tag(sync=True)
    """str: the training job: "idle", "running", "done", "failed" or "cancelled"."""
    progress = traitlets.Float(0.0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)  # status line
    shown = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict, one per shown image: index, split, label (class name), target (its value of
    the classifier's attribute, as text); row k of the maps and cell k of ``atlas``."""
    n_selected = traitlets.Int(0).tag(sync=True)
    """int: images in the selection (``shown`` holds at most ``max_images`` of them, and the focus)."""
    atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG atlas of the shown images at full resolution (cell k at (k % atlas_cols,
    k // atlas_cols), each image centred in a ``cell`` square)."""
    atlas_cols, cell = traitlets.Int(1).tag(sync=True), traitlets.Int(32).tag(sync=True)
    pixel_maps = Array("float32", (None, None, None)).tag(sync=True)
    """float32 [N, H, W]: each shown image's pixel map in [0, 1] (``rc.maps``)."""
    region_maps = Array("float32", (None, None, None)).tag(sync=True)
    """float32 [N, √p, √p]: each shown image's patch confidences (``rc.region_maps``)."""
    general_map = Array("float32", (None, None)).tag(sync=True)
    """float32 [H, W]: the train split's mean pixel map (``rc.general_map("train")``; sent when
    ``map_kind`` is "general", empty before)."""
    split = traitlets.Unicode("val").tag(sync=True)  # split of the reliability diagram
    reliability = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict, one per bin: lo, hi, count, share, confidence, accuracy (None: empty bin)."""
    ece = traitlets.Float(None, allow_none=True).tag(sync=True)
    """float or None: expected calibration error over ``bins`` bins."""
    reliability_note = traitlets.Unicode("").tag(sync=True)  # why there is no diagram
    augmentation = traitlets.Unicode("").tag(sync=True)  # id of the last mitigation's augmentation
    rendered = traitlets.Unicode("").tag(sync=True)
    """str: "key|indices|map_kind" of what the maps show (for tests and linked code)."""

    def __init__(self, engine: Engine, rc: RegionClassifier | None = None, attribute: str = "bias_class",
                 images=None, patch: int | None = None, positions: int | None = None, epochs: int | None = None,
                 lr: float | None = None, batch_size: int | None = None, confidence: str | None = None,
                 seed: int | None = None, label_smoothing: float | None = None, split: str = "val", bins: int = 20,
                 **kwargs: Any):
        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a dashwidgets Engine, got {type(engine).__name__}")
        if rc is not None and not isinstance(rc, RegionClassifier):
            raise TypeError(f"rc must be a RegionClassifier (eng.region_classifier(...)), got {type(rc).__name__}")
        if rc is not None and rc.spec.get("dataset") != engine.dataset.fingerprint():
            raise ValueError(f"region classifier {rc.key} was trained on another engine's dataset")
        engine.dataset.indices(split)  # an unknown split is refused here, naming the splits
        self._engine = engine
        self.rc: RegionClassifier | None = None
        """The :class:`RegionClassifier` shown (None while training or after a refusal)."""
        self.job: Job | None = None
        given = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "confidence": confidence, "seed": seed,
                 "label_smoothing": label_smoothing}
        self.params = {k: v for k, v in given.items() if v is not None}
        """Keyword arguments of ``Engine.region_classifier_async`` besides attribute/patch/positions."""
        self._settled = threading.Event()
        self._ready = False
        ds = engine.dataset
        h, w = ds.image_size
        quantile = kwargs.pop("quantile", None)
        super().__init__(split=split, bins=bins, cell=int(max(h, w)), **kwargs)
        self.attributes = [*sorted(ds.attributes), "label"]
        if images is None and "selection" not in kwargs:
            pool = ds.indices("val")
            pool = pool if len(pool) else ds.indices(None)
            images = pool[:DEFAULT_IMAGES]
        if images is not None:
            self.selection = images
        self._ready = True
        self.on_msg(self._on_msg)
        if rc is not None:
            self.train_args = {"attribute": rc.attribute, "patch": rc.patch, "positions": rc.positions}
            self._use(rc)
            self._settled.set()
        else:
            try:
                self.train(attribute, patch, positions)
            except (ValueError, TypeError):
                self._settled.set()  # shown in the view; nothing to wait for
        if quantile is not None:
            try:
                self.quantile = quantile
            except traitlets.TraitError as e:  # shown in the view; the default stays
                self.error = self.error or str(e)

    # -------------------------------------------------------------- validation
    @traitlets.validate("selection")
    def _check_selection(self, proposal):
        return EngineView._valid_selection(self, proposal["value"])  # same rule as the image views

    @traitlets.validate("focus")
    def _check_focus(self, proposal):
        value, n = proposal["value"], len(self._engine.dataset)
        if value != -1 and not 0 <= value < n:
            self._reject(f"focus index {value} out of range [0, {n})")
        return value

    @traitlets.validate("quantile")
    def _check_quantile(self, proposal):
        try:
            return check_quantile(proposal["value"])  # eng.augment's own check
        except ValueError as e:
            self._reject(str(e))

    @traitlets.validate("map_kind")
    def _check_map_kind(self, proposal):
        return self._one_of(proposal, MAP_KINDS, "map kind")

    @traitlets.validate("method")
    def _check_method(self, proposal):
        return self._one_of(proposal, MITIGATIONS, "mitigation method")

    @traitlets.validate("bins", "max_images")
    def _check_counts(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        lo, hi = (2, 1000) if name == "bins" else (1, 10**6)
        if not lo <= value <= hi:
            self._reject(f"{name} must be from {lo} to {hi}, got {value}")
        return value

    @traitlets.validate("split")
    def _check_split(self, proposal):
        try:
            self._engine.dataset.indices(proposal["value"])
        except ValueError as e:
            self._reject(str(e))
        return proposal["value"]

    # -------------------------------------------------------------- training
    def train(self, attribute: str | None = None, patch: int | None = None, positions: int | None = None) -> Job:
        """Train (or fetch from the engine's cache) the region classifier for ``attribute`` with
        ``patch`` and ``positions`` (None: the engine's defaults for the image size) in the
        background, cancelling a running one; the view shows it when the job ends. The engine's
        refusal of the arguments raises here and is shown in the view."""
        attribute = self.train_args.get("attribute", "bias_class") if attribute is None else attribute
        try:
            job = self._engine.region_classifier_async(attribute, patch, positions, **self.params)
        except (ValueError, TypeError) as e:  # refused: a classifier shown stays shown
            with self.hold_sync():
                self.train_args = {"attribute": attribute, "patch": patch, "positions": positions}
                if self.rc is None:
                    self.state, self.message = "failed", ""
                self._report(e)
            raise
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self._settled.clear()
        self.train_args = {"attribute": attribute, "patch": patch, "positions": positions}
        with self.hold_sync():
            self.rc = None
            self._clear()
        return self._follow(job, f"training the {attribute!r} region classifier…")

    _progress_event = "epoch"
    _job_cancelled = "training cancelled: press Train to run it again"
    _job_failed = "training the region classifier failed"

    def _job_done(self, rc: RegionClassifier) -> None:
        self._use(rc)

    def _use(self, rc: RegionClassifier) -> None:
        """Show ``rc``: its description, the shown images' maps and the reliability diagram."""
        self.rc = rc
        acc = (rc.history[-1] if rc.history else {}).get("val_accuracy")
        g = int(round(rc.positions ** 0.5))
        with self.hold_sync():
            self.classifier = {
                "key": rc.key, "attribute": rc.attribute, "patch": rc.patch, "positions": rc.positions, "grid": g,
                "classes": [str(c) for c in rc.classes], "confidence": rc.confidence, "epochs": rc.spec["epochs"],
                "val_accuracy": None if acc is None else _num(acc),
            }
            self.train_args = {"attribute": rc.attribute, "patch": rc.patch, "positions": rc.positions}
            self.state, self.progress = "done", 1.0
            self.message = (f"{rc.attribute!r} region classifier: {rc.patch} px patches on a {g} × {g} grid, "
                            f"{rc.spec['epochs']} epochs" + ("" if acc is None else f", val patch accuracy {acc:.2f}"))
            self._show_maps()
            self._show_reliability()

    # -------------------------------------------------------------- payload
    def _clear(self) -> None:
        self.classifier, self.shown, self.atlas, self.atlas_cols = {}, [], b"", 1
        self.pixel_maps = self.region_maps = self.general_map = np.zeros(0, np.float32)
        self.reliability, self.ece, self.reliability_note, self.rendered = [], None, "", ""

    def _indices(self) -> list[int]:
        """The images shown: the first ``max_images`` of the selection, and the focus."""
        idx = list(self.selection[: self.max_images])
        return idx + [self.focus] if self.focus >= 0 and self.focus not in idx else idx

    @traitlets.observe("selection", "focus", "max_images", "map_kind")
    def _on_images(self, change) -> None:
        if self._ready and self.rc is not None:
            with self.hold_sync():
                self._show_maps()

    @traitlets.observe("bins", "split")
    def _on_bins(self, change) -> None:
        if self._ready and self.rc is not None:
            with self.hold_sync():
                self._show_reliability()

    def _rendered(self) -> str:
        return f"{self.rc.key}|{','.join(map(str, self._indices()))}|{self.map_kind}"  # for tests

    def _show_maps(self) -> None:
        """Atlas, maps and rows of the shown images (call inside hold_sync)."""
        rc, ds = self.rc, self._engine.dataset
        idx = np.asarray(self._indices(), np.int64)
        self.n_selected = len(self.selection)
        try:
            if len(idx):
                regions, pixels = rc.region_maps(idx), rc.maps(idx)
                png, cols = atlas_png(ds.images[idx], self.cell)
            else:
                g = int(round(rc.positions ** 0.5))
                regions, pixels = np.zeros((0, g, g), np.float32), np.zeros((0, *ds.image_size), np.float32)
                png, cols = b"", 1
            self._show_general()
        except Exception as e:  # noqa: BLE001 - shown in the view; the kernel lives
            self._report(e)
            return
        classes, values = self._engine.classes, self._targets(idx)
        self.shown = [
            {"index": int(i), "split": str(ds.split[i]), "label": str(classes[int(ds.labels[i])]), "target": v}
            for i, v in zip(idx.tolist(), values, strict=True)
        ]
        self.region_maps, self.pixel_maps = regions, pixels
        self.atlas, self.atlas_cols = png, cols
        self.rendered = self._rendered()

    def _targets(self, idx: np.ndarray) -> list[str]:
        """Each image's value of the classifier's attribute, as text."""
        ds, a = self._engine.dataset, self.rc.attribute
        if a == "label":
            return [str(self._engine.classes[int(ds.labels[i])]) for i in idx]
        values = np.asarray(ds.attributes[a])
        return [str(values[i].item() if hasattr(values[i], "item") else values[i]) for i in idx]

    def _show_general(self) -> None:
        if self.map_kind == "general":  # computed once per classifier, on first use
            try:
                self.general_map = self.rc.general_map("train")
            except ValueError as e:  # no train images to average
                self._report(e)

    def _show_reliability(self) -> None:
        try:
            table = self.rc.reliability(self.split, self.bins)
            ece = self.rc.ece(self.split, self.bins)
        except ValueError as e:  # e.g. an empty split
            self.reliability, self.ece, self.reliability_note = [], None, str(e)
            return
        self.reliability = [
            {"lo": _num(r["lo"]), "hi": _num(r["hi"]), "count": int(r["count"]), "share": _num(r["share"]),
             "confidence": _num(r["confidence"]), "accuracy": _num(r["accuracy"])}
            for r in table.to_dict("records")
        ]
        self.ece, self.reliability_note = float(ece), ""

    # -------------------------------------------------------------- mitigation
    def mitigate(self):
        """``eng.augment(selection, method, region=rc, map=map_kind, quantile=quantile)``: the
        selected train images with the pixels above their map's quantile greyed (``"mask"``) or
        noised (``"noise"``); returns the :class:`Augmentation` (its id is shown). Val and test
        images are refused (augmentations join training), with the engine's message in the view."""
        try:
            if self.rc is None:
                raise ValueError("no region classifier yet: wait for the training to end (or press Train)")
            src = self._engine.check_sources(self.selection)
            aug = self._engine.augment(src, method=self.method, region=self.rc, map=self.map_kind,
                                       quantile=self.quantile)
        except (ValueError, TypeError) as e:
            self._report(e)
            raise
        with self.hold_sync():
            self.augmentation, self.error = aug.id, ""
            self.message = (f"mitigation {aug.id}: {len(src)} train image(s), {self.method} above the "
                            f"{self.quantile:.2f} quantile of the {self.map_kind} map")
        return aug

    def _on_msg(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        try:
            if action == "cancel":
                self.cancel()
            elif action == "train":
                self.train(content.get("attribute"), content.get("patch"), content.get("positions"))
            elif action == "mitigate":
                if self._apply(content, ("quantile", "map_kind", "method")):
                    self.mitigate()
        except (ValueError, TypeError):
            pass  # shown in the view by train() / mitigate()
