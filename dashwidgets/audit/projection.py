"""t-SNE maps of model embeddings: fit once, place later versions into the same frame.

Uses openTSNE (Poličar et al., "openTSNE: a modular Python library for t-SNE dimensionality
reduction and embedding", 2019) on all cores, with FFT-accelerated gradients from 10,000 points
(Barnes-Hut below that, where it is faster). The first version
projected defines the map; later versions are added to the same frame in one of two ways:

``transform`` (default, fast)
    openTSNE's ``transform``: each point starts at the median of its nearest reference points and
    is optimised with the reference points fixed. Features are standardised per version (each by
    its own mean and std) first: training changes the scale of a layer's activations, and without
    this the new points all find the same few reference neighbours and collapse onto a spot.
``aligned`` (slower, more faithful)
    A full t-SNE of the version's own features, initialised at the reference coordinates of the
    same images, so the layout stays put and only changed neighbourhoods move. Use it to compare
    versions trained from scratch, whose feature spaces share no axes with the reference.
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
        x = self._prepare(features, fit=True)
        if len(x) < 4:
            raise ValueError(f"t-SNE needs at least 4 points, got {len(x)}")
        tsne = self._tsne(len(x), "pca", callback)
        self._embedding = tsne.fit(x)
        self.reference_features = np.asarray(features, dtype=np.float32)
        self.reference_coords = np.asarray(self._embedding, dtype=np.float32).copy()
        (callback or _no_report)("optimise", 1.0)
        return self.reference_coords.copy()

    def transform(self, features: np.ndarray, callback: Callable[[str, float], None] | None = None) -> np.ndarray:
        """Place ``features [M, D]`` into the reference map; returns ``[M, 2] float32``."""
        if self.reference_coords is None:
            raise ValueError("the map has not been fitted yet; call fit() first")
        emb = self._reference_embedding()
        x = self._prepare(features, fit=False)
        report = callback or _no_report
        report("neighbours", 0.0)
        part = emb.prepare_partial(x, initialization="median", k=25, perplexity=5)
        part.optimize(
            n_iter=250,
            learning_rate=0.1,
            exaggeration=1.5,
            momentum=0.8,
            max_grad_norm=0.25,
            inplace=True,
            propagate_exception=True,
            callbacks=_iteration_reporter(report, 250),
            callbacks_every_iters=_EVERY,
            n_jobs=self.n_jobs,
        )
        report("optimise", 1.0)
        return np.asarray(part, dtype=np.float32).copy()

    def align(self, features: np.ndarray, callback: Callable[[str, float], None] | None = None) -> np.ndarray:
        """t-SNE of ``features [N, D]`` (the reference images, another version's embedding)
        started from the reference coordinates; returns ``[N, 2] float32`` in the same frame."""
        if self.reference_coords is None:
            raise ValueError("the map has not been fitted yet; call fit() first")
        if len(features) != len(self.reference_coords):
            raise ValueError(
                f"aligned projection needs the same {len(self.reference_coords)} images as the reference map, "
                f"got {len(features)}"
            )
        z = self._standardise(features)
        x = _reduce(z, _fit_pca(z, self.pca_dims))  # its own axes: versions need not share them
        ref = self.reference_coords.astype(np.float64)
        init = (ref - ref.mean(axis=0)) / ref[:, 0].std() * 1e-4  # openTSNE's recommended init scale
        out = np.asarray(self._tsne(len(x), init, callback).fit(x), dtype=np.float32)
        (callback or _no_report)("optimise", 1.0)
        return out

    def _tsne(self, n: int, initialization, callback):
        """An openTSNE.TSNE for ``n`` points reporting ``callback(stage, fraction)``."""
        from openTSNE import TSNE

        report = callback or _no_report
        report("neighbours", 0.0)
        return TSNE(
            perplexity=self._perplexity(n),
            n_jobs=self.n_jobs,
            random_state=self.seed,
            negative_gradient_method=_gradient_method(n),
            initialization=initialization,
            callbacks=_iteration_reporter(report, 250 + 500),  # early exaggeration + main phase
            callbacks_every_iters=_EVERY,
            verbose=False,
        )

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

    def _standardise(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"features must be [N, D], got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("features contain NaN or infinite values")
        return (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)  # each version by its own statistics

    def _prepare(self, features: np.ndarray, fit: bool) -> np.ndarray:
        """Standardise, then reduce with the reference PCA (fitted here when ``fit``)."""
        if not fit and self.reference_features is not None and np.shape(features)[-1] != self.reference_features.shape[1]:
            raise ValueError(
                f"features have {np.shape(features)[-1]} dimensions but the map was fitted on "
                f"{self.reference_features.shape[1]}; use the same embedding layer"
            )
        z = self._standardise(features)
        if fit:
            self._pca = _fit_pca(z, self.pca_dims)
        return _reduce(z, self._pca)

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


def _fit_pca(z: np.ndarray, dims: int):
    """A PCA to ``dims`` components when the features are wider than that, else None."""
    if z.shape[1] <= dims or len(z) <= dims:
        return None
    from sklearn.decomposition import PCA

    return PCA(n_components=dims, svd_solver="covariance_eigh").fit(z)


def _reduce(z: np.ndarray, pca) -> np.ndarray:
    if pca is not None:
        z = pca.transform(z)
    return np.ascontiguousarray(z, dtype=np.float64)


def _no_report(stage: str, fraction: float) -> None:
    pass


_EVERY = 25  # openTSNE calls back every this many iterations


def _iteration_reporter(report: Callable[[str, float], None], total: int):
    """An openTSNE callback that turns iteration counts into ``report("optimise", fraction)``."""
    done = [0]

    def on_iter(iteration, error, embedding):
        done[0] += _EVERY
        report("optimise", min(1.0, done[0] / total))
        return False

    return on_iter
