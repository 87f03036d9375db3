"""How two or more versions differ image by image: confusion differences (DASH's Mosaic View)
and correct/incorrect traces across versions (DASH's Trace View)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..runtime.results import EvalResult

CHANGES = ("became right", "became wrong", "always wrong", "always right", "mixed")


def confusion(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``[C, C] int64`` confusion counts, rows = true class, columns = predicted class."""
    return np.bincount(labels * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


@dataclass(frozen=True)
class Comparison:
    """Version ``a`` against version ``b`` on the same images.

    ``confusion_a``, ``confusion_b``: ``[C, C]`` counts (rows true, columns predicted);
    ``diff = confusion_b - confusion_a``; ``flips``: one row per image (index, label, pred_a,
    pred_b, correct_a, correct_b, change); ``per_class``: accuracy per true class for both.
    """

    a: str
    b: str
    split: str | None
    classes: list[str]
    indices: np.ndarray
    labels: np.ndarray
    pred_a: np.ndarray
    pred_b: np.ndarray
    confusion_a: np.ndarray
    confusion_b: np.ndarray

    @property
    def diff(self) -> np.ndarray:
        return self.confusion_b - self.confusion_a

    @property
    def correct_a(self) -> np.ndarray:
        return self.pred_a == self.labels

    @property
    def correct_b(self) -> np.ndarray:
        return self.pred_b == self.labels

    @property
    def became_right(self) -> np.ndarray:
        """Indices wrong under ``a`` and right under ``b``."""
        return self.indices[~self.correct_a & self.correct_b]

    @property
    def became_wrong(self) -> np.ndarray:
        """Indices right under ``a`` and wrong under ``b``."""
        return self.indices[self.correct_a & ~self.correct_b]

    @property
    def flips(self) -> pd.DataFrame:
        ca, cb = self.correct_a, self.correct_b
        change = np.where(
            ca & cb, "always right", np.where(~ca & cb, "became right", np.where(ca & ~cb, "became wrong", "always wrong"))
        )
        names = np.asarray(self.classes, dtype=object)
        return pd.DataFrame(
            {
                "label": names[self.labels],
                "pred_a": names[self.pred_a],
                "pred_b": names[self.pred_b],
                "correct_a": ca,
                "correct_b": cb,
                "change": change,
            },
            index=pd.Index(self.indices, name="index"),
        )

    @property
    def per_class(self) -> pd.DataFrame:
        n = self.confusion_a.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc_a = np.diag(self.confusion_a) / n
            acc_b = np.diag(self.confusion_b) / n
        return pd.DataFrame(
            {"n": n, f"accuracy_{self.a}": acc_a, f"accuracy_{self.b}": acc_b, "delta": acc_b - acc_a},
            index=pd.Index(self.classes, name="class"),
        )

    def plot(self):
        """A plotly figure: per-class accuracy of both versions and the confusion difference heatmap (see :func:`dashwidgets.runtime.figures.comparison`)."""
        from ..runtime import figures

        return figures.comparison(self)

    def cell(self, true: int, pred: int, version: str = "b") -> np.ndarray:
        """Indices of the images of true class ``true`` predicted ``pred`` by version ``"a"`` or
        ``"b"`` (a Mosaic cell)."""
        if version not in ("a", "b"):
            raise ValueError(f"version must be 'a' or 'b', got {version!r}")
        c = len(self.classes)
        if not (0 <= true < c and 0 <= pred < c):
            raise ValueError(f"cell ({true}, {pred}) out of range for {c} classes")
        p = self.pred_a if version == "a" else self.pred_b
        return self.indices[(self.labels == true) & (p == pred)]

    @property
    def accuracy_a(self) -> float:
        return float(self.correct_a.mean()) if len(self.labels) else float("nan")

    @property
    def accuracy_b(self) -> float:
        return float(self.correct_b.mean()) if len(self.labels) else float("nan")

    def __repr__(self) -> str:
        return (
            f"Comparison({self.a} -> {self.b}, split={self.split!r}, n={len(self.indices)}, "
            f"accuracy {self.accuracy_a:.3f} -> {self.accuracy_b:.3f}, "
            f"became right {len(self.became_right)}, became wrong {len(self.became_wrong)})"
        )


def compare(a: EvalResult, b: EvalResult, classes: Sequence[str]) -> Comparison:
    """Compare two evaluations of the same images."""
    if not np.array_equal(a.indices, b.indices):
        raise ValueError("the two evaluations cover different images")
    c = len(classes)
    return Comparison(
        a=a.version,
        b=b.version,
        split=a.split,
        classes=list(classes),
        indices=a.indices,
        labels=a.labels,
        pred_a=a.pred,
        pred_b=b.pred,
        confusion_a=confusion(a.labels, a.pred, c),
        confusion_b=confusion(b.labels, b.pred, c),
    )


@dataclass(frozen=True)
class Trace:
    """Correct (True) / incorrect per image across an ordered list of versions.

    ``correct``: ``[M, V] bool``, rows follow ``indices``, columns follow ``versions``;
    ``pred``: ``[M, V]`` predicted classes. ``change`` names each image's path: "became right"
    (wrong first, right last), "became wrong", "always wrong", "always right", or "mixed" (first
    and last agree but it changed in between).
    """

    versions: list[str]
    split: str | None
    indices: np.ndarray
    labels: np.ndarray
    pred: np.ndarray
    correct: np.ndarray

    @property
    def change(self) -> np.ndarray:
        first, last = self.correct[:, 0], self.correct[:, -1]
        steady = (self.correct == self.correct[:, :1]).all(axis=1)
        out = np.full(len(self.indices), "mixed", dtype=object)
        out[~first & last] = "became right"
        out[first & ~last] = "became wrong"
        out[steady & first] = "always right"
        out[steady & ~first] = "always wrong"
        return out

    def filter(self, change: str) -> np.ndarray:
        """Indices of the images whose path is ``change`` (one of :data:`CHANGES`)."""
        if change not in CHANGES:
            raise ValueError(f"unknown change {change!r}; choose one of {list(CHANGES)}")
        return self.indices[self.change == change]

    def became_right(self) -> np.ndarray:
        return self.filter("became right")

    def became_wrong(self) -> np.ndarray:
        return self.filter("became wrong")

    def always_wrong(self) -> np.ndarray:
        """Images no version gets right: DASH users' edge cases."""
        return self.filter("always wrong")

    def plot(self):
        """A plotly figure: accuracy per version and the number of images on each path (see
        :func:`dashwidgets.runtime.figures.trace`)."""
        from ..runtime import figures

        return figures.trace(self)

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.correct, columns=self.versions, index=pd.Index(self.indices, name="index"))
        df["change"] = self.change
        return df

    def __repr__(self) -> str:
        counts = pd.Series(self.change).value_counts()
        parts = ", ".join(f"{k} {int(counts.get(k, 0))}" for k in CHANGES if counts.get(k, 0))
        return f"Trace({' -> '.join(self.versions)}, split={self.split!r}, n={len(self.indices)}: {parts})"


def trace(results: Sequence[EvalResult]) -> Trace:
    """Trace images across evaluations of the same images, in the given order."""
    if len(results) < 2:
        raise ValueError(f"a trace needs at least 2 versions, got {len(results)}")
    for r in results[1:]:
        if not np.array_equal(r.indices, results[0].indices):
            raise ValueError("the evaluations cover different images")
    return Trace(
        versions=[r.version for r in results],
        split=results[0].split,
        indices=results[0].indices,
        labels=results[0].labels,
        pred=np.stack([r.pred for r in results], axis=1),
        correct=np.stack([r.correct for r in results], axis=1),
    )
