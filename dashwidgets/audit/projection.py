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

Large sets (more than ``max_fit`` points, default 20,000) follow Kobak & Berens' recipe ("The art
of using t-SNE for single-cell transcriptomics", 2019) with openTSNE's parts (``large="refine"``,
the default): a seeded random subsample of ``min(subsample, max_fit)`` points (10,000) is fitted
(250 early-exaggeration and 250 main iterations); every other point starts at the median place of
its nearest subsample points in the kNN graph of all points; then all points are optimised together
for ``refine_iter`` iterations (100; FFT gradients, perplexity ``min(perplexity, 10)``: 30 Annoy
neighbours, 15 trees), so fine neighbourhoods form among all points, not only against the
subsample. These settings were chosen by measurement (``benchmarks/README.md``, tsne_scale.py) and
never touch sets of at most ``max_fit`` points. ``large="transform"`` places the rest with
openTSNE's ``transform`` against the fixed subsample: cheaper, loses most fine neighbourhoods
(:func:`neighbourhood_recall`). Either way the subsample is the map later versions go into.
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
    max_fit : int
        Largest set fitted in full; above it the map is fitted on a seeded random subsample of
        ``min(subsample, max_fit)`` points, the rest added as ``large`` says (module docstring).
    large : str
        ``"refine"`` (default): start the rest from the subsample's map, then optimise all points
        together; ``"transform"``: place the rest with openTSNE's ``transform`` only (faster,
        loses fine neighbourhoods).
    refine_iter : int
        Iterations of the joint optimisation of all points (``large="refine"``).
    subsample : int
        Points fitted when the set has more than ``max_fit`` (at most ``max_fit`` of them).
    """

    def __init__(self, perplexity: float = 30.0, seed: int = 0, pca_dims: int = 50, n_jobs: int = -1,
                 max_fit: int = 20_000, large: str = "refine", refine_iter: int = 100, subsample: int = 10_000):
        if isinstance(max_fit, bool) or not isinstance(max_fit, (int, np.integer)) or max_fit < 100:
            raise ValueError(f"max_fit must be an integer >= 100, got {max_fit!r}")
        if large not in _LARGE:
            raise ValueError(f"large must be one of {', '.join(map(repr, _LARGE))}, got {large!r}")
        if isinstance(refine_iter, bool) or not isinstance(refine_iter, (int, np.integer)) or refine_iter < _EVERY:
            raise ValueError(f"refine_iter must be an integer >= {_EVERY}, got {refine_iter!r}")
        if isinstance(subsample, bool) or not isinstance(subsample, (int, np.integer)) or subsample < 100:
            raise ValueError(f"subsample must be an integer >= 100, got {subsample!r}")
        self.perplexity = float(perplexity)
        self.seed = int(seed)
        self.pca_dims = int(pca_dims)
        self.n_jobs = int(n_jobs)
        self.max_fit = int(max_fit)
        self.large = large
        self.refine_iter = int(refine_iter)
        self.subsample = int(subsample)
        self._pca = None
        self._embedding = None  # openTSNE.TSNEEmbedding, rebuilt lazily after restore
        self.reference_features: np.ndarray | None = None
        self.reference_coords: np.ndarray | None = None

    # ------------------------------------------------------------------ public
    def fit(self, features: np.ndarray, callback: Callable[[str, float], None] | None = None) -> np.ndarray:
        """Fit the map on ``features [N, D]``; returns ``[N, 2] float32`` coordinates.

        ``callback(stage, fraction)`` reports progress; it may raise to abort. Above ``max_fit``
        points the map is fitted on a subsample and the rest placed into it (stage "place", which
        includes the joint optimisation of ``large="refine"``).
        """
        features = np.asarray(features, dtype=np.float32)
        n = len(features)
        if n < 4:
            raise ValueError(f"t-SNE needs at least 4 points, got {n}")
        if n <= self.max_fit:
            x = self._prepare(features, fit=True)
            self._embedding = self._tsne(n, "pca", callback).fit(x)
            self.reference_features = features
            self.reference_coords = np.asarray(self._embedding, dtype=np.float32).copy()
            (callback or _no_report)("optimise", 1.0)
            return self.reference_coords.copy()
        return self._fit_large(features, callback or _no_report)

    def _fit_large(self, features: np.ndarray, report: Callable[[str, float], None]) -> np.ndarray:
        """More than ``max_fit`` points: fit a seeded subsample, place the rest, and (``large="refine"``)
        optimise all points together from there (see the module docstring)."""
        n = len(features)
        fit_idx = np.sort(np.random.default_rng(self.seed).choice(n, min(self.subsample, self.max_fit), replace=False))
        z = self._standardise(features)  # one standardisation for all points of this version
        self._pca = _fit_pca(z[fit_idx], self.pca_dims)
        x = _reduce(z, self._pca)
        del z
        sub_share = 0.5 if self.large == "transform" else 0.3
        emb = self._tsne(len(fit_idx), "pca", lambda st, f: report(st, sub_share * f), _SUB_ITER).fit(x[fit_idx])
        sub_xy = np.asarray(emb, dtype=np.float32)
        if self.large == "transform":
            self._embedding = emb
            out = np.empty((n, 2), np.float32)
            out[fit_idx] = sub_xy
            rest = np.setdiff1d(np.arange(n), fit_idx)
            for start in range(0, len(rest), _PLACE_CHUNK):
                chunk = rest[start : start + _PLACE_CHUNK]
                out[chunk] = self._place(x[chunk], lambda _st, f: report("place", f), 0.5 + 0.5 * start / len(rest),
                                         0.5 * len(chunk) / len(rest))
            report("place", 1.0)
        else:
            out = self._refine(x, fit_idx, sub_xy, report)
            self._embedding = None  # the subsample moved: its reference embedding is rebuilt when needed
        self.reference_features = features[fit_idx]
        self.reference_coords = out[fit_idx].copy()
        return out

    def _refine(self, x: np.ndarray, fit_idx: np.ndarray, sub_xy: np.ndarray,
                report: Callable[[str, float], None]) -> np.ndarray:
        """Kobak & Berens' recipe for large sets: every point starts at the median of its nearest
        subsample points on the subsample's map, then all are optimised together (module docstring)."""
        from openTSNE import TSNEEmbedding
        from openTSNE.affinity import PrecomputedAffinities, get_knn_index, joint_probabilities_nn

        n = len(x)
        report("neighbours", 0.3)
        perplexity = min(self._perplexity(n), _REFINE_PERPLEXITY)
        k = min(n - 1, int(_REFINE_NEIGHBOURS * perplexity))
        annoy = n >= 1000  # as openTSNE's "auto"; exact below
        nbrs, dists = get_knn_index(x, "annoy" if annoy else "exact", k, "euclidean", n_jobs=self.n_jobs, random_state=self.seed,
                                    knn_kwargs={"n_trees": _REFINE_TREES} if annoy else None).build()
        P = joint_probabilities_nn(nbrs, dists, [perplexity], symmetrize=True, n_jobs=self.n_jobs)
        del dists
        report("place", 0.45)
        init = _median_of_sampled_neighbours(x, nbrs, fit_idx, sub_xy)
        del nbrs
        report("place", 0.5)
        emb = TSNEEmbedding(init, PrecomputedAffinities(P, normalize=False), negative_gradient_method=_gradient_method(n),
                            n_jobs=self.n_jobs, random_state=self.seed)
        emb.optimize(
            n_iter=self.refine_iter,
            exaggeration=1,
            momentum=0.8,
            inplace=True,
            propagate_exception=True,
            callbacks=_iteration_reporter(lambda _st, f: report("place", 0.5 + 0.5 * f), self.refine_iter),
            callbacks_every_iters=_EVERY,
        )
        report("place", 1.0)
        return np.asarray(emb, dtype=np.float32).copy()

    def transform(self, features: np.ndarray, callback: Callable[[str, float], None] | None = None) -> np.ndarray:
        """Place ``features [M, D]`` into the reference map; returns ``[M, 2] float32``."""
        if self.reference_coords is None:
            raise ValueError("the map has not been fitted yet; call fit() first")
        x = self._prepare(features, fit=False)
        report = callback or _no_report
        report("neighbours", 0.0)
        out = np.empty((len(x), 2), np.float32)
        for start in range(0, len(x), _PLACE_CHUNK):
            out[start : start + _PLACE_CHUNK] = self._place(x[start : start + _PLACE_CHUNK], report, start / max(1, len(x)),
                                                           min(_PLACE_CHUNK, len(x) - start) / max(1, len(x)))
        report("optimise", 1.0)
        return out

    def _place(self, x: np.ndarray, report: Callable[[str, float], None] | None = None, offset: float = 0.0,
               share: float = 1.0) -> np.ndarray:
        """openTSNE's transform of prepared points ``x`` into the fitted map (the reference fixed);
        its iterations report ``offset + share * fraction``."""
        emb = self._reference_embedding()
        part = emb.prepare_partial(x, initialization="median", k=25, perplexity=5)
        part.optimize(
            n_iter=250,
            learning_rate=0.1,
            exaggeration=1.5,
            momentum=0.8,
            max_grad_norm=0.25,
            inplace=True,
            propagate_exception=True,
            callbacks=_iteration_reporter(lambda st, f: (report or _no_report)(st, offset + share * f), 250),
            callbacks_every_iters=_EVERY,
            n_jobs=self.n_jobs,
        )
        return np.asarray(part, dtype=np.float32).copy()

    def align(self, features: np.ndarray, callback: Callable[[str, float], None] | None = None) -> np.ndarray:
        """t-SNE of ``features [N, D]`` (the reference images, another version's embedding)
        started from the reference coordinates; returns ``[N, 2] float32`` in the same frame."""
        if self.reference_coords is None:
            raise ValueError("the map has not been fitted yet; call fit() first")
        if len(features) > self.max_fit:
            raise ValueError(
                f"aligned projection runs a full t-SNE, and {len(features):,} points are more than max_fit="
                f"{self.max_fit:,}; use mode='transform' for large sets"
            )
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

    def _tsne(self, n: int, initialization, callback, n_iter: int = 500):
        """An openTSNE.TSNE for ``n`` points (250 + ``n_iter`` iterations) reporting ``callback(stage, fraction)``."""
        from openTSNE import TSNE

        report = callback or _no_report
        report("neighbours", 0.0)
        return TSNE(
            perplexity=self._perplexity(n),
            n_jobs=self.n_jobs,
            random_state=self.seed,
            negative_gradient_method=_gradient_method(n),
            initialization=initialization,
            n_iter=n_iter,
            callbacks=_iteration_reporter(report, 250 + n_iter),  # early exaggeration + main phase
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


def _median_of_sampled_neighbours(x: np.ndarray, nbrs: np.ndarray, fit_idx: np.ndarray, sub_xy: np.ndarray,
                                   k: int = 10) -> np.ndarray:
    """Start coordinates for all points: a subsample point keeps its place on the subsample's map,
    any other point goes to the median place of its (up to) ``k`` nearest subsample points among
    its neighbours ``nbrs [N, K]`` (nearest first); a point with none among them, to the median of
    its ``k`` nearest subsample points found by an exact search."""
    n = len(x)
    is_fit = np.zeros(n, bool)
    is_fit[fit_idx] = True
    pos = np.full(n, -1)
    pos[fit_idx] = np.arange(len(fit_idx))
    init = np.empty((n, 2), np.float64)
    init[fit_idx] = sub_xy
    rest = np.flatnonzero(~is_fit)
    lonely = []
    for start in range(0, len(rest), _PLACE_CHUNK):  # bounds the [chunk, K, 2] temporary
        rows = rest[start : start + _PLACE_CHUNK]
        nb = nbrs[rows]
        use = is_fit[nb]
        use &= np.cumsum(use, axis=1) <= k
        xy = np.where(use[..., None], sub_xy[pos[nb]], np.nan)
        found = use.any(axis=1)
        init[rows[found]] = np.nanmedian(xy[found], axis=1)
        lonely.append(rows[~found])
    lonely = np.concatenate(lonely) if lonely else np.empty(0, int)
    if len(lonely):
        from sklearn.neighbors import NearestNeighbors

        near = NearestNeighbors(n_neighbors=min(k, len(fit_idx))).fit(x[fit_idx]).kneighbors(
            x[lonely], return_distance=False)
        init[lonely] = np.median(sub_xy[near], axis=1)
    return init


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


_LARGE = ("refine", "transform")  # strategies for sets above max_fit
_EVERY = 25  # openTSNE calls back every this many iterations
_SUB_ITER = 250  # main-phase iterations of a large set's subsample fit (a full fit: openTSNE's 500)
_REFINE_PERPLEXITY, _REFINE_NEIGHBOURS = 10.0, 3  # joint phase of a large set: largest perplexity, neighbours per unit
_REFINE_TREES = 15  # Annoy trees for the kNN graph of a large set (openTSNE's default: 50)
_PLACE_CHUNK = 50_000  # points placed by one openTSNE transform (bounds its memory, paces progress)


def neighbourhood_recall(features: np.ndarray, coords: np.ndarray, k: int = 10, sample: int = 2000,
                         seed: int = 0) -> float:
    """How well a 2-D layout keeps neighbourhoods: for ``sample`` random points, the mean share of
    their ``k`` nearest neighbours in (standardised) feature space that are also among their ``k``
    nearest neighbours on the map. 1 is perfect; a random layout scores about ``k / N``."""
    from sklearn.neighbors import NearestNeighbors

    z = np.asarray(features, dtype=np.float32)
    z = (z - z.mean(axis=0)) / (z.std(axis=0) + 1e-6)
    xy = np.asarray(coords, dtype=np.float32)
    if len(z) != len(xy):
        raise ValueError(f"{len(z)} feature rows but {len(xy)} coordinates")
    if not 1 <= k < len(z):
        raise ValueError(f"k must be in [1, {len(z) - 1}], got {k}")
    q = np.random.default_rng(seed).choice(len(z), min(sample, len(z)), replace=False)
    nf = NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z[q], return_distance=False)[:, 1:]
    nm = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy[q], return_distance=False)[:, 1:]
    return float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(nf, nm, strict=True)]))


def _iteration_reporter(report: Callable[[str, float], None], total: int):
    """An openTSNE callback that turns iteration counts into ``report("optimise", fraction)``."""
    done = [0]

    def on_iter(iteration, error, embedding):
        done[0] += _EVERY
        report("optimise", min(1.0, done[0] / total))
        return False

    return on_iter
