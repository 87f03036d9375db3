"""Batched inference: one pass gives predictions, probabilities, losses and embeddings."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..models.layers import capture, pool_features
from .device import autocast


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


def run_inference(
    model: nn.Module,
    inputs: Callable[[torch.Tensor], torch.Tensor],
    targets: torch.Tensor,
    idx: np.ndarray,
    device: torch.device,
    batch_size: int = 512,
    layer: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """One batched pass over ``idx``: logits → probs/pred/loss, and pooled ``layer`` output.

    Returns numpy arrays ``pred [M]``, ``probs [M, C]``, ``loss [M]`` and, when ``layer`` is given,
    ``embedding [M, D]``. Runs under ``torch.inference_mode`` and autocast on CUDA.
    """
    model.eval()
    # indices live where the labels do, and outputs stay on the device until one copy at the
    # end: a per-batch .cpu() would make every batch wait for the GPU
    idx_t = torch.as_tensor(idx, dtype=torch.int64).to(targets.device)
    probs, losses, embs = [], [], []
    with torch.inference_mode(), contextlib.ExitStack() as stack:
        store = stack.enter_context(capture(model, layer)) if layer else None
        for start in range(0, len(idx_t), batch_size):
            bi = idx_t[start : start + batch_size]
            x = inputs(bi)
            y = targets[bi]
            with autocast(device):
                logits = model(x)
            logits = logits.float()
            if logits.dim() != 2:
                raise ValueError(f"model output must be [batch, classes] logits, got shape {tuple(logits.shape)}")
            probs.append(torch.softmax(logits, 1))
            losses.append(F.cross_entropy(logits, y, reduction="none"))
            if store is not None:
                if not store:
                    raise ValueError(f"layer {layer!r} did not run in the forward pass")
                embs.append(pool_features(store[-1].float()))
                store.clear()
            if progress is not None:
                progress(len(bi))
    n_classes = probs[0].shape[1] if probs else 0
    p = torch.cat(probs).cpu().numpy() if probs else np.zeros((0, n_classes), np.float32)
    out = {
        "probs": p.astype(np.float32, copy=False),
        "pred": p.argmax(1).astype(np.int64) if len(p) else np.zeros(0, np.int64),
        "loss": torch.cat(losses).cpu().numpy().astype(np.float32) if losses else np.zeros(0, np.float32),
    }
    if layer:
        out["embedding"] = torch.cat(embs).cpu().numpy().astype(np.float32) if embs else np.zeros((0, 0), np.float32)
    return out
