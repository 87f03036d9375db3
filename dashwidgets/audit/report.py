"""The text audit: validation vs unbiased test, per class, bias-aligned vs bias-conflicting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..datasets.imageset import ImageSet


@dataclass(frozen=True)
class BiasAudit:
    """Accuracy tables of one version.

    Attributes
    ----------
    version : str
    splits : pd.DataFrame
        One row per split: ``accuracy``, ``aligned_accuracy``, ``conflicting_accuracy``,
        ``n``, ``n_aligned``, ``n_conflicting`` (aligned columns only when the dataset has the
        ``"aligned"`` attribute).
    per_class : pd.DataFrame
        Accuracy per true class (rows) and split (columns).
    """

    version: str
    splits: pd.DataFrame
    per_class: pd.DataFrame

    @property
    def gap(self) -> float:
        """Validation minus test accuracy, in percentage points (NaN without both splits)."""
        acc = self.splits["accuracy"]
        if "val" in acc and "test" in acc:
            return float(100.0 * (acc["val"] - acc["test"]))
        return float("nan")

    def plot(self):
        """A plotly figure: accuracy per split (all, bias-aligned, bias-conflicting) and per class (see :func:`dashwidgets.runtime.figures.audit`)."""
        from ..runtime import figures

        return figures.audit(self)

    def to_text(self) -> str:
        lines = [f"Audit of version {self.version}", ""]
        fmt = self.splits.copy()
        for col in [c for c in fmt.columns if c.endswith("accuracy")]:
            fmt[col] = fmt[col].map(lambda x: "—" if np.isnan(x) else f"{100 * x:5.1f} %")
        lines += [fmt.to_string(), ""]
        if not np.isnan(self.gap):
            verdict = (
                "the model leans on a shortcut that the unbiased test split does not have"
                if self.gap >= 10
                else "no large shift between validation and test"
            )
            lines += [f"val − test accuracy: {self.gap:+.1f} points ({verdict})", ""]
        pc = (100 * self.per_class).round(1)
        lines += ["Per-class accuracy (%):", pc.to_string()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def bias_audit(version: str, results: dict, dataset: ImageSet) -> BiasAudit:
    """Build a :class:`BiasAudit` from per-split :class:`EvalResult` objects."""
    aligned = dataset.attributes.get("aligned")
    rows = {}
    for split, r in results.items():
        row = {"accuracy": r.accuracy, "n": len(r)}
        if aligned is not None:
            a = np.asarray(aligned, dtype=bool)[r.indices]
            row["aligned_accuracy"] = float(r.correct[a].mean()) if a.any() else float("nan")
            row["conflicting_accuracy"] = float(r.correct[~a].mean()) if (~a).any() else float("nan")
            row["n_aligned"] = int(a.sum())
            row["n_conflicting"] = int((~a).sum())
        rows[split] = row
    splits = pd.DataFrame.from_dict(rows, orient="index")
    splits.index.name = "split"
    per_class = pd.DataFrame({s: r.per_class_accuracy(dataset.classes) for s, r in results.items()})
    return BiasAudit(version=version, splits=splits, per_class=per_class)
