"""Result types shared by every layer: what one model version says about a set of images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class EvalResult:
    """What one model version says about a set of images (rows follow ``indices``).

    Attributes
    ----------
    version : str
    split : str or None
        The split evaluated (``None``: all images).
    layer : str
        The layer whose globally pooled output is ``embedding``.
    indices : np.ndarray
        ``[M] int64`` dataset indices of the rows.
    labels, pred : np.ndarray
        ``[M] int64`` true and predicted classes.
    probs : np.ndarray
        ``[M, C] float32`` softmax probabilities.
    loss : np.ndarray
        ``[M] float32`` per-image cross-entropy.
    correct : np.ndarray
        ``[M] bool``.
    embedding : np.ndarray
        ``[M, D] float32`` globally average-pooled output of ``layer``.
    """

    version: str
    split: str | None
    layer: str
    indices: np.ndarray
    labels: np.ndarray
    pred: np.ndarray
    probs: np.ndarray
    loss: np.ndarray
    correct: np.ndarray
    embedding: np.ndarray

    @property
    def accuracy(self) -> float:
        """Share of correct predictions (NaN for an empty split)."""
        return float(self.correct.mean()) if len(self.correct) else float("nan")

    @property
    def confidence(self) -> np.ndarray:
        """``[M] float32`` probability of the predicted class."""
        return self.probs[np.arange(len(self.pred)), self.pred]

    def __len__(self) -> int:
        return len(self.indices)

    def take(self, rows: np.ndarray, split: str | None) -> EvalResult:
        """The rows at positions ``rows`` as a new result."""
        return EvalResult(
            version=self.version,
            split=split,
            layer=self.layer,
            indices=self.indices[rows],
            labels=self.labels[rows],
            pred=self.pred[rows],
            probs=self.probs[rows],
            loss=self.loss[rows],
            correct=self.correct[rows],
            embedding=self.embedding[rows],
        )

    def per_class_accuracy(self, classes: list[str]) -> pd.Series:
        """Accuracy per true class, indexed by class name."""
        acc = [
            float(self.correct[self.labels == c].mean()) if (self.labels == c).any() else float("nan")
            for c in range(len(classes))
        ]
        return pd.Series(acc, index=pd.Index(classes, name="class"), name="accuracy")

    def to_frame(self, classes: list[str] | None = None) -> pd.DataFrame:
        """One row per image: index, label, pred, confidence, loss, correct."""
        df = pd.DataFrame(
            {
                "index": self.indices,
                "label": self.labels,
                "pred": self.pred,
                "confidence": self.confidence,
                "loss": self.loss,
                "correct": self.correct,
            }
        )
        if classes is not None:
            names = np.asarray(classes, dtype=object)
            df["label_name"] = names[self.labels]
            df["pred_name"] = names[self.pred]
        return df.set_index("index")

    def __repr__(self) -> str:
        return (
            f"EvalResult(version={self.version!r}, split={self.split!r}, n={len(self)}, "
            f"accuracy={self.accuracy:.4f}, layer={self.layer!r})"
        )
