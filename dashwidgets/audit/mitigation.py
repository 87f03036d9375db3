"""The paper's Table 1 (De Coninck et al., §4.2) from evaluation results: overall accuracy,
accuracy on bias-aligned and bias-conflicting test images, and their gap, one row per model."""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ("model", "kind", "noise", "quantile", "accuracy", "aligned_accuracy", "conflicting_accuracy", "gap",
           "augmentation")
"""``quantile``: the map quantile above which pixels were changed (the paper's "Quantile"; the top
``1 - quantile`` share), NaN for unmitigated models. ``gap``: |aligned - conflicting|."""


def subgroup_accuracy(correct: np.ndarray, aligned: np.ndarray) -> dict[str, float]:
    """Accuracy overall, on bias-aligned and on bias-conflicting images, and the gap between them
    (NaN for a subgroup with no images)."""
    correct = np.asarray(correct, dtype=bool).reshape(-1)
    aligned = np.asarray(aligned, dtype=bool).reshape(-1)
    if correct.shape != aligned.shape:
        raise ValueError(f"correct has {correct.size} images but aligned has {aligned.size}")
    if correct.size == 0:
        raise ValueError("no images to measure accuracy on")

    def acc(m: np.ndarray) -> float:
        return float(correct[m].mean()) if m.any() else float("nan")

    a, c = acc(aligned), acc(~aligned)
    return {"accuracy": float(correct.mean()), "aligned_accuracy": a, "conflicting_accuracy": c, "gap": abs(a - c)}


def mitigation_frame(rows: list[dict]) -> pd.DataFrame:
    """The table: one row per model with :data:`COLUMNS` (missing entries NaN/None)."""
    return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=list(COLUMNS))
