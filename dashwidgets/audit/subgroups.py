"""UDIS subgroup discovery (Krishnakumar et al., BMVC 2021, as used by VisCUIT §3.2): cluster the
last-layer features of a split, call a cluster *under-performing* when its accuracy is below
``ratio`` (0.5) times the overall accuracy, and pair each under-performing cluster with the
closest well-performing one (Euclidean distance between the clusters' mean features).

Plain arrays in, pandas/numpy out. The number of clusters: neither VisCUIT nor this module's
spec fixes one, so ``k=None`` uses the rule of thumb ``k = round(sqrt(n / 2))``, kept between 2 and
``n // 10`` (at least 2) and at most 50 (250 test images → 11 subgroups of ~23 images).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

METHODS = ("kmeans", "hierarchical")
K_MAX_DEFAULT = 50


def default_k(n: int) -> int:
    """The documented default number of subgroups for ``n`` images (see the module docstring)."""
    k = round(math.sqrt(n / 2))
    return int(max(2, min(k, n // 10, K_MAX_DEFAULT)))


@dataclass(frozen=True)
class Subgroups:
    """The subgroups of one version on one split, ids ordered by accuracy (0 = the worst).

    ``table``: one row per subgroup id with ``size``, ``accuracy``, ``under`` (bool), ``pair``
    (id of the closest well-performing subgroup for under-performing ones, else missing),
    ``pair_distance``, ``label`` / ``label_share`` (dominant true class), ``prediction`` /
    ``prediction_share`` (dominant predicted class) and ``<attr>_share`` for every boolean
    dataset attribute. ``indices [M]``: the dataset indices clustered; ``assignment [M]`` the
    subgroup of each; ``centroids [k, D]``: mean features per subgroup.
    """

    version: str | None
    split: str | None
    method: str
    k: int
    ratio: float
    overall_accuracy: float
    indices: np.ndarray
    assignment: np.ndarray
    centroids: np.ndarray
    confusions: np.ndarray
    table: pd.DataFrame

    def plot(self):
        """A plotly figure: accuracy per subgroup, under-performing ones apart, with the threshold (see :func:`dashwidgets.runtime.figures.subgroups`)."""
        from ..runtime import figures

        return figures.subgroups(self)

    def members(self, i: int) -> np.ndarray:
        """Dataset indices of subgroup ``i``."""
        return self.indices[self.assignment == self._check(i)]

    def confusion(self, i: int) -> np.ndarray:
        """``[C, C] int64`` confusion counts of subgroup ``i`` (rows true, columns predicted)."""
        return self.confusions[self._check(i)]

    @property
    def under(self) -> list[int]:
        """Ids of the under-performing subgroups, worst first."""
        return self.table.index[self.table["under"]].tolist()

    def pair(self, i: int) -> int | None:
        """The well-performing subgroup most similar to ``i`` (None when ``i`` performs well or
        no subgroup does)."""
        p = self.table.at[self._check(i), "pair"]
        return None if pd.isna(p) else int(p)

    def _check(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < self.k:
            raise ValueError(f"subgroup {i!r} out of range [0, {self.k})")
        return int(i)

    def __len__(self) -> int:
        return self.k

    def __repr__(self) -> str:
        return (
            f"Subgroups({self.method}, k={self.k} on {self.version} / {self.split}: {len(self.under)} "
            f"under-performing, overall accuracy {self.overall_accuracy:.3f})"
        )


def check_k(k, n: int) -> int:
    """``k`` as an int in [2, n]; errors name the problem (and the split size)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer number of subgroups, got {k!r}")
    if k < 2:
        raise ValueError(f"k must be at least 2 subgroups, got {k}")
    if k > n:
        raise ValueError(f"k={k} subgroups is more than the {n} images to cluster; choose k <= {n}")
    return int(k)


def _cluster(x: np.ndarray, k: int, method: str, seed: int) -> np.ndarray:
    if method == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x)


def _dominant(values: np.ndarray, groups: np.ndarray, k: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros((k, c), np.int64)
    np.add.at(counts, (groups, values), 1)
    top = counts.argmax(1)
    return top, counts[np.arange(k), top] / np.maximum(counts.sum(1), 1)


def discover_subgroups(
    features: np.ndarray,
    labels: np.ndarray,
    pred: np.ndarray,
    indices: np.ndarray | None = None,
    k: int | None = None,
    method: str = "kmeans",
    ratio: float = 0.5,
    seed: int = 0,
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
    attributes: Mapping[str, np.ndarray] | None = None,
    version: str | None = None,
    split: str | None = None,
) -> Subgroups:
    """UDIS on ``features [M, D]`` with true ``labels [M]`` and predictions ``pred [M]``.

    ``indices [M]``: the images' dataset indices (default ``arange(M)``); ``attributes``: per-image
    arrays ``[M]`` (boolean ones get a ``<name>_share`` column); ``classes``: names for the
    ``label``/``prediction`` columns. Clusters the raw features (``method``: ``"kmeans"`` with
    ``seed``, or Ward ``"hierarchical"``); ``k=None``: :func:`default_k`.
    """
    x = np.asarray(features, dtype=np.float64)
    labels, pred = np.asarray(labels, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    if x.ndim != 2:
        raise ValueError(f"features must be [images, dims], got shape {x.shape}")
    n = len(x)
    if labels.shape != (n,) or pred.shape != (n,):
        raise ValueError(f"labels and pred must be [{n}] like the features, got {labels.shape} and {pred.shape}")
    if n < 2:
        raise ValueError(f"need at least 2 images to find subgroups, got {n}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or inf values")
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; choose one of {list(METHODS)}")
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0 < ratio <= 1:
        raise ValueError(f"ratio must be a number in (0, 1] (under-performing: accuracy < ratio * overall), got {ratio!r}")
    k = default_k(n) if k is None else check_k(k, n)
    indices = np.arange(n, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
    if indices.shape != (n,):
        raise ValueError(f"indices must be [{n}] like the features, got {indices.shape}")
    c = int(num_classes if num_classes is not None else max(labels.max(), pred.max()) + 1)

    raw = _cluster(x, k, method, int(seed))
    used = np.unique(raw)  # k-means on duplicate points can leave a cluster empty
    raw = np.searchsorted(used, raw)
    k = len(used)
    correct = labels == pred
    size = np.bincount(raw, minlength=k)
    acc = np.bincount(raw, weights=correct, minlength=k) / size
    # ids by accuracy (worst first), larger subgroups first among equals
    order = np.lexsort((-size, acc))
    rank = np.empty(k, np.int64)
    rank[order] = np.arange(k)
    groups = rank[raw]
    size, acc = size[order], acc[order]
    centroids = np.zeros((k, x.shape[1]))
    np.add.at(centroids, groups, x)
    centroids /= size[:, None]

    overall = float(correct.mean())
    under = acc < ratio * overall
    well = np.flatnonzero(~under)
    pair = pd.array([pd.NA] * k, dtype="Int64")
    dist = np.full(k, np.nan)
    if len(well):
        for i in np.flatnonzero(under):
            d = np.linalg.norm(centroids[well] - centroids[i], axis=1)
            pair[i], dist[i] = int(well[d.argmin()]), float(d.min())

    conf = np.zeros((k, c, c), np.int64)
    np.add.at(conf, (groups, labels, pred), 1)
    lab, lab_share = _dominant(labels, groups, k, c)
    prd, prd_share = _dominant(pred, groups, k, c)
    names = (lambda a: [classes[i] for i in a]) if classes is not None else (lambda a: a)
    cols = {
        "size": size, "accuracy": acc, "under": under, "pair": pair, "pair_distance": dist,
        "label": names(lab), "label_share": lab_share, "prediction": names(prd), "prediction_share": prd_share,
    }
    for name, values in (attributes or {}).items():
        values = np.asarray(values)
        if values.shape != (n,):
            raise ValueError(f"attribute {name!r} must have one value per image ({n}), got shape {values.shape}")
        if values.dtype == bool:
            cols[f"{name}_share"] = np.bincount(groups, weights=values, minlength=k) / size
    table = pd.DataFrame(cols, index=pd.RangeIndex(k, name="subgroup"))
    return Subgroups(
        version, split, method, k, float(ratio), overall, indices, groups, centroids.astype(np.float32), conf, table
    )
