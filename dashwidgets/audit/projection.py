"""t-SNE maps of model embeddings: fit once, place later versions into the same frame.

Uses openTSNE (Poličar et al., "openTSNE: a modular Python library for t-SNE dimensionality
reduction and embedding", 2019) on all cores, with FFT-accelerated gradients from 10,000 points
(Barnes-Hut below that, where it is faster). The first version
projected defines the map; later versions are added with openTSNE's ``transform`` (each point is
initialised at the median of its nearest reference points, then optimised with the reference
points fixed), so a user sees how points move between versions in one frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class TSNEMap:
    """A reference t-SNE embedding and the means to add new points to it.

    Parameters
    ----------
    perplexity : float
        Neighbourhood size of the reference map (clamped to ``(N - 1) / 3`` for small N).
    seed : int
        Random state of PCA initialisation and neighbour search.
    pca_dims : int
        Features wider than this are first reduced by PCA (fitted on the reference features and
        reused for every later transform).
    n_jobs : int
        Threads for openTSNE (-1: all cores).
    """

    def __init__(self, perplexity: float = 30.0, seed: int = 0, pca_dims: int = 50, n_jobs: int = -1):
        self.perplexity = float(perplexity)
        self.seed = int(seed)
        self.pca_dims = int(pca_dims)
        self.n_jobs = int(n_jobs)
        self._pca = None
        self._embedding = None  # openTSNE.TSNEEmbedding, rebuilt lazily after restore
        self.reference_features: np.ndarray | None = None
        self.reference_coords: np.ndarray | None = None

    # ------------------------------------------------------------------ public
    def fit(self, features: np.ndarray, callback: Callable[[str, float], None] | None = None) -> np.ndarray:
        """Fit the map on ``features [N, D]``; returns ``[N, 2] float32`` coordinates.

        ``callback(stage, fraction)`` reports progress; it may raise to abort.
        """
        from openTSNE import TSNE

        x = self._prepare(features, fit=True)
        n = len(x)
        if n < 4:
            raise ValueError(f"t-SNE needs at least 4 points, got {n}")
        perplexity = self._perplexity(n)
        report = callback or (lambda stage, frac: None)
        report("neighbours", 0.0)
        total = 250 + 500
        done = [0]

        def on_iter(iteration, error, embedding):
            done[0] += 25
            report("optimise", min(1.0, done[0] / total))
            return False

        tsne = TSNE(
            perplexity=perplexity,
            n_jobs=self.n_jobs,
            random_state=self.seed,
            negative_gradient_method=_gradient_method(n),
            initialization="pca",
            callbacks=on_iter,
            callbacks_every_iters=25,
            verbose=False,
        )
        self._embedding = tsne.fit(x)
        self.reference_features = np.asarray(features, dtype=np.float32)
        self.reference_coords = np.asarray(self._embedding, dtype=np.float32).copy()
        report("optimise", 1.0)
        return self.reference_coords.copy()

    def transform(self, features: np.ndarray, callback: Callable[[str, float], None] | None = None) -> np.ndarray:
        """Place ``features [M, D]`` into the reference map; returns ``[M, 2] float32``."""
        if self.reference_coords is None:
            raise ValueError("the map has not been fitted yet; call fit() first")
        emb = self._reference_embedding()
        x = self._prepare(features, fit=False)
        report = callback or (lambda stage, frac: None)
        total = 250
        done = [0]

        def on_iter(iteration, error, embedding):
            done[0] += 25
            report("optimise", min(1.0, done[0] / total))
            return False

        report("neighbours", 0.0)
        part = emb.prepare_partial(x, initialization="median", k=25, perplexity=5)
        part.optimize(
            n_iter=total,
            learning_rate=0.1,
            exaggeration=1.5,
            momentum=0.8,
            max_grad_norm=0.25,
            inplace=True,
            propagate_exception=True,
            callbacks=on_iter,
            callbacks_every_iters=25,
            n_jobs=self.n_jobs,
        )
        report("optimise", 1.0)
        return np.asarray(part, dtype=np.float32).copy()

    @classmethod
    def restore(
        cls, reference_features: np.ndarray, reference_coords: np.ndarray, **kwargs
    ) -> TSNEMap:
        """Rebuild a fitted map from saved features and coordinates (no re-optimisation)."""
        m = cls(**kwargs)
        m.reference_features = np.asarray(reference_features, dtype=np.float32)
        m.reference_coords = np.asarray(reference_coords, dtype=np.float32)
        if len(m.reference_features) != len(m.reference_coords):
            raise ValueError(
                f"saved map has {len(m.reference_coords)} coordinates for {len(m.reference_features)} features"
            )
        m._prepare(m.reference_features, fit=True)
        return m

    # ------------------------------------------------------------------ internals
    def _perplexity(self, n: int) -> float:
        return float(max(2.0, min(self.perplexity, (n - 1) / 3.0)))

    def _prepare(self, features: np.ndarray, fit: bool) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"features must be [N, D], got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or infinite values")
        if fit:
            self._pca = None
            if x.shape[1] > self.pca_dims and len(x) > self.pca_dims:
                from sklearn.decomposition import PCA

                self._pca = PCA(n_components=self.pca_dims, svd_solver="covariance_eigh").fit(x)
        elif self.reference_features is not None and x.shape[1] != self.reference_features.shape[1]:
            raise ValueError(
                f"features have {x.shape[1]} dimensions but the map was fitted on "
                f"{self.reference_features.shape[1]}; use the same embedding layer"
            )
        if self._pca is not None:
            x = self._pca.transform(x).astype(np.float32)
        return np.ascontiguousarray(x, dtype=np.float64)

    def _reference_embedding(self):
        if self._embedding is None:
            from openTSNE import TSNEEmbedding
            from openTSNE.affinity import PerplexityBasedNN

            x = self._prepare(self.reference_features, fit=True)
            aff = PerplexityBasedNN(
                x, perplexity=self._perplexity(len(x)), n_jobs=self.n_jobs, random_state=self.seed
            )
            self._embedding = TSNEEmbedding(
                self.reference_coords.astype(np.float64),
                aff,
                negative_gradient_method=_gradient_method(len(x)),
                n_jobs=self.n_jobs,
                random_state=self.seed,
            )
        return self._embedding


def _gradient_method(n: int) -> str:
    """FFT interpolation scales linearly and wins from ~10k points; Barnes-Hut is faster below."""
    return "fft" if n >= 10_000 else "bh"
