"""ConceptWindow: one neuron's top images, concept patches and subgroup scores (VisCUIT Figure 3)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import traitlets

from ..audit.subgroups import METHODS as SUBGROUP_METHODS
from ..engine.engine import Engine
from ..models.layers import conv_layers
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._atlas import atlas_png
from ._base import EngineView, cell_size

_NO_SUBGROUP = "pick a subgroup (in a linked SubgroupPanel, or set view.subgroup) to see this neuron's activation scores"

_EMPTY = {"shown": {}, "images": [], "image_atlas": b"", "image_cols": 1, "patches": [], "patch_atlas": b"", "patch_cols": 1}
"""The concept traits of a view that shows no neuron."""


def _cell_box(box: np.ndarray, h: int, w: int) -> list[float]:
    """A box ``(y0, x0, y1, x1)`` in image pixels as fractions of its thumbnail cell (the image is
    scaled to the cell's side and centred, as :func:`~._atlas.thumbnails` pads it)."""
    side = max(h, w)
    top, left = (side - h) / 2, (side - w) / 2
    y0, x0, y1, x1 = (float(v) for v in box)
    return [round((top + y0) / side, 5), round((left + x0) / side, 5), round((top + y1) / side, 5), round((left + x1) / side, 5)]


def _neuron_form(value: Any) -> dict:
    """``{}``, ``{"layer": str, "neuron": int}`` or a ``(layer, neuron)`` pair as the trait's dict;
    a ValueError names any other form."""
    if value is None:
        return {}
    if isinstance(value, (tuple, list)) and len(value) == 2:
        value = {"layer": value[0], "neuron": value[1]}
    if not isinstance(value, dict):
        raise ValueError(f"neuron must be {{'layer': str, 'neuron': int}}, a (layer, neuron) pair or {{}}, got {value!r}")
    if not value:
        return {}
    layer, n = value.get("layer"), value.get("neuron")
    if set(value) != {"layer", "neuron"} or not isinstance(layer, str) or isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise ValueError(f"neuron must be {{'layer': str, 'neuron': int}} (or {{}} for none), got {value!r}")
    return {"layer": layer, "neuron": int(n)}


class ConceptWindow(EngineView):
    """One neuron of a version explained (VisCUIT's Neuron Concept Window).

    For the neuron in ``neuron`` it shows the images of the whole dataset that activate it most
    (VisCUIT ranks "over the entire dataset"; the box of the best concept patch cut from each), its
    concept patches (``Engine.concepts``: small
    squares of those images that, shown alone, activate the neuron most; upscaled with hard pixel
    edges) and, when a subgroup is picked, the neuron's activation scores for that under-performing
    subgroup and its paired well-performing one (``Engine.neuron_scores``). Clicking an image or a
    patch focuses its source image (``focus``), so a linked gallery or Grad-CAM view shows it.

    ``subgroup`` and ``neuron`` are linked by :func:`dashwidgets.link` with a ``SubgroupPanel``
    (which sets ``subgroup``) and a ``NeuronPanel`` (which sets ``neuron`` on click). All three
    views take ``(eng, version, split, k, method)``: made with the same arguments they see the same
    (cached) subgroups, so a subgroup id means the same group in each.

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Default: the latest version (followed when it changes).
    split : str
        Split clustered into subgroups (for the scores).
    k : int, optional
        Number of subgroups (``Engine.subgroups``'s default when None).
    method : {"kmeans", "hierarchical"}
        Subgroup clustering.
    neuron : dict or (layer, neuron) pair, optional
        The neuron to show first.
    """

    _bundle = "concepts"

    neuron = traitlets.Dict().tag(sync=True)
    """dict: ``{"layer": str, "neuron": int}`` of the neuron shown, ``{}`` for none (a linked
    NeuronPanel sets it)."""
    subgroup = traitlets.Int(-1).tag(sync=True)
    """int: id of the picked under-performing subgroup, -1 for none (a linked SubgroupPanel sets it)."""
    computing = traitlets.Bool(False).tag(sync=True)
    """bool: True while the concepts or scores are being computed (read-only)."""
    shown = traitlets.Dict().tag(sync=True)
    """dict: what the view shows (read-only): ``layer``, ``neuron``, ``channels`` (the layer's
    channel count), ``version``, ``patch_side`` (px) and ``image_size`` ``[H, W]``;
    ``{}`` when no neuron is shown."""
    images = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the top images, most activating first: ``index``, ``activation`` (the
    neuron's spatial maximum), ``label`` (class name) and ``box`` (the best patch cut from it as
    ``[y0, x0, y1, x1]`` fractions of the thumbnail cell, or None when none of its patches made
    the top)."""
    image_atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG sprite atlas of the top images, cell k at (k % image_cols, k // image_cols)."""
    image_cols = traitlets.Int(1).tag(sync=True)
    """int: columns of ``image_atlas``."""
    cell = traitlets.Int(32).tag(sync=True)
    """int: side of an ``image_atlas`` cell in pixels."""
    patches = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the concept patches, most activating first: ``source`` (dataset index of
    the image it was cut from), ``activation`` and ``box`` (``[y0, x0, y1, x1]`` in image pixels)."""
    patch_atlas = traitlets.Bytes(b"").tag(sync=True)
    """bytes: PNG sprite atlas of the patches at their own size (``shown["patch_side"]`` px cells)."""
    patch_cols = traitlets.Int(1).tag(sync=True)
    """int: columns of ``patch_atlas``."""
    scores = traitlets.List(traitlets.Dict()).tag(sync=True)
    """list of dict: the neuron's activation scores, one per group: ``group`` ("under" or
    "well"), ``subgroup`` id, ``score`` (share of the group's images where the neuron is highly
    activated, 0 to 1), ``accuracy``, ``size`` and ``under`` (whether it under-performs); empty with ``scores_note`` saying why."""
    scores_note = traitlets.Unicode(_NO_SUBGROUP).tag(sync=True)
    """str: why there are no (or only one) scores ("" when both are shown)."""
    rendered = traitlets.Unicode("").tag(sync=True)
    """str: "version|layer|neuron|subgroup" of what the view shows (for tests and linked code)."""

    def __init__(
        self,
        engine: Engine,
        version: ModelVersion | str | Job | None = None,
        split: str = "test",
        k: int | None = None,
        method: str = "kmeans",
        neuron: dict | tuple | None = None,
        **kwargs: Any,
    ):
        if method not in SUBGROUP_METHODS:
            raise ValueError(f"unknown clustering method {method!r}; choose one of {list(SUBGROUP_METHODS)}")
        if isinstance(engine, Engine):
            engine.dataset.indices(split)  # an unknown split is refused here, naming the splits
        self._split, self._k, self._method = split, k, method
        super().__init__(engine, version, cell=cell_size(engine, 32, 96), **kwargs)
        self.neuron = _neuron_form(neuron)  # neuron=(layer, n) pairs are welcome here
        self.version = self.initial_version.id

    # -------------------------------------------------------------- validation
    @traitlets.validate("neuron")
    def _check_neuron(self, proposal):
        try:
            return _neuron_form(proposal["value"])
        except ValueError as e:
            self._reject(str(e))

    @traitlets.validate("subgroup")
    def _check_subgroup(self, proposal):
        if proposal["value"] < -1:
            self._reject(f"subgroup must be a subgroup id (0 or more) or -1 for none, got {proposal['value']}")
        return proposal["value"]

    # -------------------------------------------------------------- computing
    @traitlets.observe("neuron", "version")
    def _on_neuron(self, change) -> None:
        self._render(concepts=True)

    @traitlets.observe("subgroup")
    def _on_subgroup(self, change) -> None:
        self._render(concepts=False)

    def _render(self, concepts: bool) -> None:
        if not self.version:
            return  # still in __init__
        self.computing = True  # reaches the browser at once: "computing concepts…"
        try:
            payload = self._concepts_payload() if concepts else {}
            payload.update(self._scores_payload())
        except Exception as e:  # noqa: BLE001 - shown in the view
            with self.hold_sync():  # nothing stale stays on screen under the new neuron's request
                if concepts:
                    for name, value in _EMPTY.items():
                        setattr(self, name, value)
                self.scores, self.scores_note = [], ""
                self._report(e)
                self.computing = False
            return
        with self.hold_sync():
            for name, value in payload.items():
                setattr(self, name, value)
            self.rendered = f"{self.version}|{self.neuron.get('layer', '')}|{self.neuron.get('neuron', '')}|{self.subgroup}"
            self.error = ""
            self.computing = False

    def _concepts_payload(self) -> dict:
        if not self.neuron:
            model = self._engine.model(self.version)
            if not conv_layers(model):
                raise ValueError(f"{type(model).__name__} has no Conv2d layer: a concept window shows a conv channel")
            return dict(_EMPTY)
        eng = self._engine
        ds = eng.dataset
        layer, n = self.neuron["layer"], self.neuron["neuron"]
        cc = eng.concepts(self.version, layer, n)  # top images over the whole dataset, as the paper ranks them
        h, w = ds.image_size
        first_box: dict[int, list[float]] = {}
        for src, box in zip(cc.sources.tolist(), cc.boxes, strict=True):
            first_box.setdefault(int(src), _cell_box(box, h, w))  # patches are descending: the first is the best
        classes = ds.classes
        images = [
            {"index": int(i), "activation": round(float(a), 5), "label": classes[int(ds.labels[i])], "box": first_box.get(int(i))}
            for i, a in zip(cc.images.tolist(), cc.image_activations, strict=True)
        ]
        patches = [
            {"source": int(s), "activation": round(float(a), 5), "box": [int(v) for v in b]}
            for s, a, b in zip(cc.sources.tolist(), cc.activations, cc.boxes, strict=True)
        ]
        img_png, img_cols = atlas_png(ds.images[cc.images], self.cell) if len(cc.images) else (b"", 1)
        side = int(cc.patches.shape[-1]) if cc.patches.ndim == 4 else 0
        patch_png, patch_cols = atlas_png(cc.patches, side) if len(cc.patches) else (b"", 1)
        channels = self._channels(layer)
        return {
            "shown": {
                "layer": cc.layer, "neuron": int(cc.neuron), "channels": channels, "version": self.version,
                "patch_side": side, "image_size": [int(h), int(w)],
            },
            "images": images, "image_atlas": img_png, "image_cols": img_cols,
            "patches": patches, "patch_atlas": patch_png, "patch_cols": patch_cols,
        }

    def _channels(self, layer: str) -> int | None:
        """Output channels of conv ``layer`` (None when the model does not say)."""
        module = dict(self._engine.model(self.version).named_modules()).get(layer)
        return int(module.out_channels) if hasattr(module, "out_channels") else None

    def _scores_payload(self) -> dict:
        if not self.neuron:
            return {"scores": [], "scores_note": ""}
        if self.subgroup < 0:
            return {"scores": [], "scores_note": _NO_SUBGROUP}
        eng = self._engine
        sg = eng.subgroups(self.version, k=self._k, split=self._split, method=self._method)
        pair = sg.pair(self.subgroup)  # range-checked: "subgroup 40 out of range [0, 12)"
        groups = {"under": sg.members(self.subgroup)}
        if pair is not None:
            groups["well"] = sg.members(pair)
        layer, n = self.neuron["layer"], self.neuron["neuron"]
        table = eng.neuron_scores(self.version, groups, layers=[layer])
        row = table[(table["layer"] == layer) & (table["neuron"] == n)]
        if not len(row):
            raise ValueError(f"neuron {n} out of range for layer {layer!r} ({int((table['layer'] == layer).sum())} channels)")
        ids = {"under": self.subgroup, "well": pair}
        scores = [
            {
                "group": name, "subgroup": int(ids[name]), "score": round(float(row[name].iloc[0]), 5),
                "accuracy": round(float(sg.table.at[ids[name], "accuracy"]), 5), "size": int(sg.table.at[ids[name], "size"]),
                "under": bool(sg.table.at[ids[name], "under"]),
            }
            for name in groups
        ]
        if pair is None:
            under = bool(sg.table.at[self.subgroup, "under"])
            note = (
                f"subgroup #{self.subgroup} performs well: no paired subgroup to compare with"
                if not under else f"subgroup #{self.subgroup} has no well-performing subgroup to pair with"
            )
        else:
            note = ""
        return {"scores": scores, "scores_note": note}

    @property
    def split(self) -> str:
        """The split the view finds subgroups in."""
        return self._split
