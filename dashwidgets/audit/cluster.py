"""Style clusters: k-means on a version's embeddings (DASH's Cluster GAN View, XploreGAN's
pseudo-labels), with the representatives closest to each centroid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

K_RANGE = (2, 20)


@dataclass(frozen=True)
class Cluster:
    """One cluster: its id, member image indices and representatives (closest to the centroid
    first). Pass it as ``style=`` to ``Engine.augment``."""

    id: int
    k: int
    version: str
    members: np.ndarray
    representatives: np.ndarray

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return f"Cluster({self.id} of k={self.k} on {self.version}, {len(self.members)} images)"


@dataclass(frozen=True)
class Clustering:
    """k-means of ``version``'s embeddings over ``indices``.

    ``assignment [M]``: cluster of each image (rows follow ``indices``); ``centroids [k, D]``
    (in standardised embedding space); ``representatives``: per cluster the ``n`` member indices
    closest to its centroid; ``table``: size, accuracy, dominant class and its share (and the
    bias-aligned share when the dataset has that attribute) per cluster.
    """

    version: str
    k: int
    split: str | None
    indices: np.ndarray
    assignment: np.ndarray
    centroids: np.ndarray
    representatives: list[np.ndarray]
    table: pd.DataFrame
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def assign(self, embedding: np.ndarray) -> np.ndarray:
        """The nearest cluster of each row of ``embedding [M, D]`` (the same version's embedding,
        e.g. ``Engine.predict(v, images)["embedding"]``), standardised as the clustered images were."""
        if self.mean is None or self.std is None:
            raise ValueError("this clustering has no standardisation stored; make it with Engine.cluster")
        z = (np.asarray(embedding, dtype=np.float64) - self.mean) / self.std
        d = ((z[:, None, :] - self.centroids[None].astype(np.float64)) ** 2).sum(-1)
        return d.argmin(axis=1).astype(np.int64)

    def plot(self):
        """A plotly figure: size, accuracy (and bias-aligned share) per cluster (see :func:`dashwidgets.runtime.figures.clustering`)."""
        from ..runtime import figures

        return figures.clustering(self)

    def members(self, c: int) -> np.ndarray:
        self._check(c)
        return self.indices[self.assignment == c]

    def __getitem__(self, c: int) -> Cluster:
        self._check(c)
        return Cluster(int(c), self.k, self.version, self.members(c), self.representatives[c])

    def __len__(self) -> int:
        return self.k

    def __iter__(self):
        return (self[c] for c in range(self.k))

    def _check(self, c: int) -> None:
        if not isinstance(c, (int, np.integer)) or not 0 <= c < self.k:
            raise ValueError(f"cluster {c!r} out of range [0, {self.k})")

    def __repr__(self) -> str:
        return f"Clustering(k={self.k} on {self.version}, {len(self.indices)} images, sizes {self.table['size'].tolist()})"


def kmeans(
    embedding: np.ndarray, k: int, seed: int = 0, n_rep: int = 8
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    """k-means on standardised features: (assignment [M], centroids [k, D], representatives as
    row positions [k][<= n_rep], closest first, and the standardisation's mean [D] and std [D],
    which :meth:`Clustering.assign` applies to new embeddings)."""
    from sklearn.cluster import KMeans

    x = np.asarray(embedding, dtype=np.float64)
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-8)
    x = (x - mean) / std
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
    dist = np.linalg.norm(x - km.cluster_centers_[km.labels_], axis=1)
    reps = []
    for c in range(k):
        rows = np.flatnonzero(km.labels_ == c)
        reps.append(rows[np.argsort(dist[rows], kind="stable")[:n_rep]])
    return km.labels_.astype(np.int64), km.cluster_centers_.astype(np.float32), reps, mean, std


def check_k(k) -> int:
    lo, hi = K_RANGE
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not lo <= k <= hi:
        raise ValueError(f"k must be an integer from {lo} to {hi}, got {k!r}")
    return int(k)
