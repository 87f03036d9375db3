"""Localisation metrics of attribution maps against ground-truth masks, and calibration (ECE).

Definitions follow Arras et al., "Ground truth evaluation of neural network explanations with
CLEVR-XAI" (RMA, RRA), as used by Schaaf et al., "Towards measuring bias in image
classification" (Eq. 1 and 2), and Quantus' defaults (absolute relevance).

``welch`` and ``cohens_d`` compare two models' scores (Schaaf et al.'s statistical test).

Every localisation metric is batched over images: attributions ``[N, H, W]`` and masks ``[N, H, W]`` (numpy
or torch), one score per image.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


def _as_batch(attributions: Any, masks: Any) -> tuple[np.ndarray, np.ndarray]:
    a = (
        attributions.detach().cpu().numpy()
        if hasattr(attributions, "detach")
        else np.asarray(attributions)
    )
    m = masks.detach().cpu().numpy() if hasattr(masks, "detach") else np.asarray(masks)
    if a.ndim == 2:
        a = a[None]
    if m.ndim == 2:
        m = m[None]
    if a.ndim != 3:
        raise ValueError(f"attributions must be [N, H, W], got shape {a.shape}")
    if m.shape != a.shape:
        raise ValueError(f"masks must match the attributions' shape {a.shape}, got {m.shape}")
    if not np.isfinite(a).all():
        raise ValueError("attributions contain NaN or infinite values")
    return a.astype(np.float64).reshape(len(a), -1), m.astype(bool).reshape(len(m), -1)


def rma(attributions: Any, masks: Any, absolute: bool = True) -> np.ndarray:
    """Relevance mass accuracy: the share of relevance inside the mask, ``[N]`` in [0, 1].

    ``sum(R[mask]) / sum(R)`` per image, on ``|R|`` when ``absolute`` (Quantus' default). An image
    with no relevance at all scores NaN.
    """
    a, m = _as_batch(attributions, masks)
    if absolute:
        a = np.abs(a)
    total = a.sum(axis=1)
    inside = (a * m).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total != 0, inside / np.where(total != 0, total, 1), np.nan)


def rra(attributions: Any, masks: Any, absolute: bool = True) -> np.ndarray:
    """Relevance rank accuracy: the share of the top-K relevant pixels inside the mask, with K the
    mask's size, ``[N]`` in [0, 1] (NaN for an empty mask). Ties are broken by pixel order."""
    a, m = _as_batch(attributions, masks)
    if absolute:
        a = np.abs(a)
    k = m.sum(axis=1)
    order = np.argsort(-a, axis=1, kind="stable")
    ranked_in_mask = np.take_along_axis(m, order, axis=1)
    hits = np.cumsum(ranked_in_mask, axis=1)
    out = np.full(len(a), np.nan)
    nonempty = k > 0
    out[nonempty] = hits[nonempty, k[nonempty] - 1] / k[nonempty]
    return out


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / sqrt((var a + var b) / 2), sample variances; NaN without spread."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    s = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float((a.mean() - b.mean()) / s) if s > 0 else float("nan")


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch's t statistic and two-sided p-value (NaN where a sample has fewer than 2 values)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical samples: NaN, said by the value
        t, p = stats.ttest_ind(a, b, equal_var=False)
    return float(t), float(p)


# ---------------------------------------------------------------- calibration
def _check_calibration(probs: Any, labels: Any, bins: int) -> tuple[np.ndarray, np.ndarray]:
    p = probs.detach().cpu().numpy() if hasattr(probs, "detach") else np.asarray(probs)
    y = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
    if p.ndim != 2:
        raise ValueError(f"probs must be [N, C] class probabilities, got shape {p.shape}")
    if y.shape != (len(p),):
        raise ValueError(f"labels must be [N] = [{len(p)}] class indices, got shape {y.shape}")
    if len(p) == 0:
        raise ValueError("no samples: calibration needs at least one prediction")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"labels must be integer class indices in [0, {p.shape[1]}), got {y[:5].tolist()}...")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("probs must be finite probabilities in [0, 1] (apply softmax to logits first)")
    return p.astype(np.float64), y.astype(np.int64)


def reliability(probs: Any, labels: Any, bins: int = 100) -> pd.DataFrame:
    """Reliability diagram data: one row per equal-width bin of top-softmax confidence over
    [0, 1] (bin ``i`` holds confidences in ``(i/bins, (i+1)/bins]``, the first also holds 0),
    with ``lo``, ``hi``, ``count``, ``share`` (``b_i``), ``confidence`` (``p_i``, mean top
    probability) and ``accuracy`` (``c_i``); empty bins have NaN means and share 0."""
    p, y = _check_calibration(probs, labels, bins)
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    b = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    count = np.bincount(b, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(b, conf, bins) / count
        acc = np.bincount(b, correct, bins) / count
    return pd.DataFrame({
        "lo": edges[:-1], "hi": edges[1:], "count": count, "share": count / len(p),
        "confidence": mean_conf, "accuracy": acc,
    })


def ece(probs: Any, labels: Any, bins: int = 100) -> float:
    """Expected calibration error (De Coninck et al., Eq. 5): ``Σ b_i |p_i − c_i|`` over
    ``bins`` equal-width bins of top-softmax confidence (see :func:`reliability`)."""
    r = reliability(probs, labels, bins)
    full = r["count"] > 0
    return float((r.loc[full, "share"] * (r.loc[full, "confidence"] - r.loc[full, "accuracy"]).abs()).sum())
