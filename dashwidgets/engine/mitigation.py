"""Region-based bias mitigation (De Coninck et al., §4): the paper's Table 1 on this engine's data.

Every train image gets a mitigated copy (the pixels above its region-classifier map's quantile
greyed out or given N(0, 0.5) noise, per ``kind``/``quantile``), and a model is trained from the
biased version's own starting point and hyper-parameters on those copies in place of the
originals (``eng.train(..., replace=True)``), as the paper trains on the modified images. The
table names the augmentation each row trained on, so the data is reproducible.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..audit.mitigation import mitigation_frame, subgroup_accuracy
from .augmentation import MAP_KINDS
from .regions import RegionClassifier

KINDS = (("general", "mask"), ("general", "noise"), ("specific", "mask"), ("specific", "noise"))
_HPARAMS = ("lr", "batch_size", "optimizer", "weight_decay", "seed")


def _row(eng, v, kind: str, noise: str | None, quantile: float, aug: str | None) -> dict:
    ds = eng.dataset
    if "aligned" not in ds.attributes:
        raise ValueError("the dataset has no 'aligned' attribute: bias-aligned and -conflicting accuracy need it")
    if not len(ds.indices("test")):
        raise ValueError("the dataset has no test images to measure the models on")
    ev = eng.evaluate(v, "test")
    aligned = np.asarray(ds.attributes["aligned"])[ds.indices("test")]
    return {"model": v.id, "kind": kind, "noise": noise, "quantile": quantile, "augmentation": aug,
            **subgroup_accuracy(ev.correct, aligned)}


def check_kinds(quantiles, kinds) -> tuple[list[float], list[tuple[str, str]]]:
    qs = [quantiles] if isinstance(quantiles, numbers.Real) else list(quantiles)
    for q in qs:
        if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0 < q < 1:
            raise ValueError(f"each quantile must be a number strictly between 0 and 1, got {q!r}")
    ks = []
    for k in kinds:
        if not (isinstance(k, (tuple, list)) and len(k) == 2 and k[0] in MAP_KINDS and k[1] in ("mask", "noise")):
            raise ValueError(f"each kind must be (map, noise) with map in {list(MAP_KINDS)} and noise 'mask' or "
                             f"'noise', got {k!r}")
        ks.append((k[0], k[1]))
    if not qs or not ks:
        raise ValueError("need at least one quantile and one kind")
    return [float(q) for q in qs], ks


def mitigation_table(eng, biased, rc: RegionClassifier, quantiles: Sequence[float] | float = (0.6, 0.7, 0.8),
                     kinds: Sequence[tuple[str, str]] = KINDS, epochs: int | None = None, reference=None,
                     seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """One row per model: ``biased``, one retrained model per kind x quantile, and ``reference``
    (a version of this engine, or another Engine whose active version is used, on the same test
    images) when given. ``quantiles`` in the paper's sense: pixels above the map's quantile are
    changed (0.7: the top 30 %), as in ``eng.augment(..., quantile=q)``."""
    v = eng.version(biased)
    if not isinstance(rc, RegionClassifier):
        raise TypeError(f"rc must be a region classifier (eng.region_classifier(...)), got {type(rc).__name__}")
    qs, ks = check_kinds(quantiles, kinds)
    rows = [_row(eng, v, "biased", None, float("nan"), None)]  # checks the data before any training
    ref_row = None
    if reference is not None:
        other = reference if hasattr(reference, "evaluate") and hasattr(reference, "active") else None
        if other is not None:
            if other.active is None:
                raise ValueError("the reference engine has no trained version")
            ref_row = _row(other, other.active, "reference", None, float("nan"), None)
        else:
            ref_row = _row(eng, eng.version(reference), "reference", None, float("nan"), None)
    hp = {k: v.hparams[k] for k in _HPARAMS if k in v.hparams}
    epochs = int(v.hparams.get("epochs", 3)) if epochs is None else epochs
    train = eng.dataset.indices("train")
    for kind, noise in ks:
        for q in qs:
            aug = eng.augment(train, method=noise, region=rc, map=kind, quantile=q, seed=seed)
            m = eng.train(epochs=epochs, parent=v.parent, augmentations=[aug], replace=True, progress=progress,
                          name=f"{v.id} {kind} {noise} q{q:g}", **hp)
            rows.append(_row(eng, m, kind, noise, q, aug.id))
    if ref_row is not None:
        rows.append(ref_row)
    return mitigation_frame(rows)
