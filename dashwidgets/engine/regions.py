"""The region service: region classifiers (De Coninck et al.) that predict a per-image target
(a dataset attribute, or the label) from one patch and its position, trained on the train split,
kept in memory and in the service's part of the workspace::

    regions/<key>.pt     the network's weights
    regions/<key>.json   its spec and training history (written after the weights)

A region classifier depends on the data, not on a model version, so it is not a version cache.
"""

from __future__ import annotations

import json
import numbers
import threading
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from ..explain.metrics import ece, reliability
from ..explain.regions import CONFIDENCES, pixel_maps, region_maps
from ..models.region import RegionNet, default_geometry, grid_logits, grid_offsets, grid_side
from ..runtime import figures
from ..runtime.jobs import Job
from ..train.region import fit_region
from .context import check_positive_int
from .progress import progress_bar
from .workspace import (
    WorkspaceWarning,
    atomic_write_bytes,
    atomic_write_json,
    describe_load_error,
    load_state,
    state_bytes,
)


class RegionClassifier:
    """A trained region classifier on an engine's dataset.

    ``maps(idx)`` → ``[N, H, W]`` pixel maps in [0, 1] (Algorithm 1); ``region_maps(idx)`` →
    ``[N, √p, √p]`` patch confidences; ``ece(split, bins)`` and ``reliability(split, bins)`` over
    every grid patch of a split's images; ``plot(split, bins)`` the reliability diagram (plotly).
    ``classes``: the target's values (class ``i`` of the network is ``classes[i]``).
    """

    def __init__(self, service: RegionService, key: str, spec: dict, net: RegionNet, history: list[dict]):
        self._service = service
        self.key, self.spec, self.net, self.history = key, spec, net, history
        self.attribute: str = spec["attribute"]
        self.patch: int = spec["patch"]
        self.positions: int = spec["positions"]
        self.classes: list = spec["classes"]
        self.confidence: str = spec["confidence"]
        h, w = service.ctx.dataset.image_size
        self.offsets = grid_offsets(min(h, w), self.patch, self.positions)
        self._general: dict[tuple, np.ndarray] = {}  # general_map's arguments -> its map
        self._probs: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # split -> patch_probs (ece + reliability)

    # ---------------------------------------------------------------- maps
    def region_maps(self, idx: Sequence[int] | np.ndarray, confidence: str | None = None) -> np.ndarray:
        ctx = self._service.ctx
        idx = ctx.dataset.check_indices(idx)
        return region_maps(self.net, ctx.inputs_t, idx, self.offsets, ctx.device, confidence or self.confidence)

    def maps(self, idx: Sequence[int] | np.ndarray, confidence: str | None = None) -> np.ndarray:
        regions = self.region_maps(idx, confidence)
        return pixel_maps(regions, self.offsets, self.patch, self._service.ctx.dataset.image_size)

    def general_map(self, split: str | None = "train", confidence: str | None = None, max_images: int = 512) -> np.ndarray:
        """``[H, W]``: the mean pixel map over up to ``max_images`` images of ``split`` (the
        paper's "general" attribution), normalised to [0, 1]. Computed once per arguments."""
        key = (split, confidence or self.confidence, max_images)
        if key not in self._general:
            idx = self._service.ctx.dataset.indices(self._service.ctx.check_split(split))[:max_images]
            if not len(idx):
                raise ValueError(f"split {split!r} has no images to average a map over")
            regions = self.region_maps(idx, confidence).mean(0, keepdims=True)
            self._general[key] = pixel_maps(regions, self.offsets, self.patch, self._service.ctx.dataset.image_size)[0]
        return self._general[key]

    # ---------------------------------------------------------------- calibration
    def patch_probs(self, split: str = "val") -> tuple[np.ndarray, np.ndarray]:
        """``(probs [M·p, C], targets [M·p])`` over every grid patch of ``split``'s images
        (computed once per split: the classifier does not change once trained)."""
        if split in self._probs:
            return self._probs[split]
        svc = self._service
        idx = svc.ctx.dataset.indices(svc.ctx.check_split(split))
        if not len(idx):
            raise ValueError(f"split {split!r} has no images to measure calibration on")
        logits = grid_logits(self.net, svc.ctx.inputs_t, idx, self.offsets, svc.ctx.device)
        probs = torch.softmax(logits, 2).reshape(-1, logits.shape[2]).numpy()
        self._probs[split] = (probs, np.repeat(svc.targets(self.spec)[idx], self.positions))
        return self._probs[split]

    def ece(self, split: str = "val", bins: int = 100) -> float:
        return ece(*self.patch_probs(split), bins=bins)

    def reliability(self, split: str = "val", bins: int = 100) -> pd.DataFrame:
        return reliability(*self.patch_probs(split), bins=bins)

    def plot(self, split: str = "val", bins: int = 20):
        """The reliability diagram as a plotly figure (``dw.figures.reliability``): accuracy per
        confidence bin beside the diagonal of perfect calibration, with the share of patches below."""
        return figures.reliability(self.reliability(split, bins), ece=self.ece(split, bins),
                                   title=f"Reliability of the {self.attribute} region classifier on {split}")

    def __repr__(self) -> str:
        return (f"RegionClassifier({self.attribute!r}, patch={self.patch}, positions={self.positions}, "
                f"{len(self.classes)} classes, epochs={self.spec['epochs']})")


class RegionService:
    def __init__(self, ctx, store):
        self.ctx = ctx
        self.store = store
        self._trained: dict[str, RegionClassifier] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- targets
    def target_values(self, attribute: str) -> np.ndarray:
        ds = self.ctx.dataset
        if not isinstance(attribute, str):
            raise TypeError(f"attribute must be a name (str), got {attribute!r}")
        if attribute == "label":
            return ds.labels
        if attribute not in ds.attributes:
            raise ValueError(f"unknown attribute {attribute!r}; the dataset has {sorted(ds.attributes)} and 'label'")
        values = np.asarray(ds.attributes[attribute])
        if values.dtype.kind == "f":
            raise ValueError(f"attribute {attribute!r} holds real numbers; a region classifier needs classes")
        return values

    def targets(self, spec: dict) -> np.ndarray:
        """Class index per dataset image for ``spec``'s attribute (-1: a value not in its classes)."""
        values = self.target_values(spec["attribute"])
        lookup = {v: i for i, v in enumerate(spec["classes"])}
        return np.array([lookup.get(v.item() if hasattr(v, "item") else v, -1) for v in values], np.int64)

    # ---------------------------------------------------------------- spec
    def spec(self, attribute: str, patch, positions, epochs, lr, batch_size, confidence, seed,
             label_smoothing=0.0) -> dict:
        ds = self.ctx.dataset
        values = self.target_values(attribute)
        train = ds.indices("train")
        classes = sorted({v.item() if hasattr(v, "item") else v for v in values[train]}, key=str)
        if len(classes) < 2:
            raise ValueError(f"attribute {attribute!r} has {len(classes)} value(s) on the train split: nothing to classify")
        side = min(ds.image_size)
        k0, p0 = default_geometry(side)
        patch = k0 if patch is None else patch
        positions = p0 if positions is None else positions
        if isinstance(patch, bool) or not isinstance(patch, numbers.Integral) or patch < 1:
            raise ValueError(f"patch must be a positive number of pixels, got {patch!r}")
        grid_side(positions)
        grid_offsets(side, int(patch), int(positions))  # patch larger than the image, too many positions
        if confidence not in CONFIDENCES:
            raise ValueError(f"unknown confidence {confidence!r}; use one of {list(CONFIDENCES)}")
        epochs = check_positive_int("epochs", epochs)
        batch_size = check_positive_int("batch_size", batch_size)
        seed = check_positive_int("seed", seed, minimum=0)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr < 10:
            raise ValueError(f"lr must be a positive number below 10, got {lr!r}")
        if (isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real)
                or not 0 <= label_smoothing < 1):
            raise ValueError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
        spec = {"attribute": attribute, "patch": int(patch), "positions": int(positions), "epochs": epochs,
                "lr": float(lr), "batch_size": batch_size, "label_smoothing": float(label_smoothing),
                "confidence": confidence, "seed": seed, "classes": classes, "dataset": ds.fingerprint()}
        spec["key"] = (f"{attribute}-k{spec['patch']}-p{spec['positions']}-e{epochs}-lr{lr:g}-b{batch_size}"
                       f"-ls{label_smoothing:g}-r{seed}-{ds.fingerprint()[:8]}")
        return spec

    # ---------------------------------------------------------------- files
    def _paths(self, key: str):
        d = self.store.workspace.path("regions")
        return d / f"{key}.pt", d / f"{key}.json"

    def _load(self, spec: dict) -> RegionClassifier | None:
        if self.store.workspace is None:
            return None
        pt, js = self._paths(spec["key"])
        if not js.exists():
            return None
        try:
            meta = json.loads(js.read_text())
            net = RegionNet(spec["patch"], spec["positions"], len(spec["classes"]), meta["spec"].get("width"))
            net.load_state_dict(load_state(pt))
            return RegionClassifier(self, spec["key"], spec, net.to(self.ctx.device).eval(), meta["history"])
        except Exception as e:  # noqa: BLE001 - an unreadable classifier is trained again
            warnings.warn(f"corrupted region classifier {spec['key']} in {pt.parent}: {describe_load_error(e)}; "
                          "it will be trained again", WorkspaceWarning, stacklevel=5)
            return None

    # ---------------------------------------------------------------- training
    def fit(self, spec: dict, emit: Callable[[dict], None], stop: threading.Event | None) -> RegionClassifier:
        key = spec["key"]
        hit = self._trained.get(key) or self._load(spec)
        if hit is not None:
            self._trained[key] = hit
            emit({"type": "cached", "progress": 1.0, "key": key})
            return hit
        ds, ctx = self.ctx.dataset, self.ctx
        targets = self.targets(spec)
        train = ds.indices("train")
        train = train[targets[train] >= 0]
        torch.manual_seed(spec["seed"])
        net = RegionNet(spec["patch"], spec["positions"], len(spec["classes"]))
        offsets = grid_offsets(min(ds.image_size), spec["patch"], spec["positions"])
        emit({"type": "start", "key": key, "epochs": spec["epochs"]})
        val = ds.indices("val")
        history = fit_region(net, ctx.inputs_t, targets, train, val[targets[val] >= 0], offsets, ctx.device,
                             epochs=spec["epochs"], lr=spec["lr"], batch_size=spec["batch_size"],
                             label_smoothing=spec["label_smoothing"], seed=spec["seed"], emit=emit, stop=stop)
        rc = RegionClassifier(self, key, spec, net.eval(), history)
        with self._lock:
            self._trained[key] = rc
            if self.store.workspace is not None:
                pt, js = self._paths(key)
                atomic_write_bytes(pt, state_bytes(net.state_dict()))
                atomic_write_json(js, {"spec": {**spec, **net.spec()}, "history": history})
        self.store.record({"event": "region_classifier", "key": key, "attribute": spec["attribute"],
                           "val_patch_accuracy": history[-1]["val_accuracy"] if history else None})
        return rc

    def train(self, spec: dict, progress: bool) -> RegionClassifier:
        bar = progress_bar(spec["epochs"], f"region classifier {spec['attribute']}", progress)

        def emit(ev: dict) -> None:
            if bar is not None and ev["type"] == "epoch":
                bar.update(1)
                bar.set_postfix(loss=f"{ev['loss']:.3f}", val=f"{ev['val_accuracy']:.3f}", refresh=False)

        try:
            return self.fit(spec, emit, None)
        finally:
            if bar is not None:
                bar.close()

    def train_async(self, spec: dict) -> Job:
        return Job(lambda emit, stop: self.fit(spec, emit, stop), name="region classifier")
