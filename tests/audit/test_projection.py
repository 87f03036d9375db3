"""t-SNE map: structure is kept, later points join the same frame, the engine caches it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import procrustes
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from dashwidgets.audit import TSNEMap


def _blobs(rng, n_per=80, k=5, d=20, spread=0.3):
    centres = rng.normal(0, 3, (k, d))
    x = np.concatenate([c + rng.normal(0, spread, (n_per, d)) for c in centres])
    y = np.repeat(np.arange(k), n_per)
    return x.astype(np.float32), y, centres


def _knn_accuracy(train_x, train_y, test_x, test_y):
    return KNeighborsClassifier(5).fit(train_x, train_y).score(test_x, test_y)


def test_fit_keeps_cluster_structure(rng):
    x, y, _ = _blobs(rng)
    xy = TSNEMap(seed=0).fit(x)
    assert xy.shape == (len(x), 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    # neighbours in the map have the same cluster: leave-one-out style check on halves
    assert _knn_accuracy(xy[::2], y[::2], xy[1::2], y[1::2]) > 0.97


def test_fit_is_reproducible_with_a_seed(rng):
    x, _, _ = _blobs(rng, n_per=40)
    np.testing.assert_allclose(TSNEMap(seed=1).fit(x), TSNEMap(seed=1).fit(x), atol=1e-4)


def test_transform_places_new_points_in_their_clusters(rng):
    x, y, centres = _blobs(rng)
    m = TSNEMap(seed=0)
    ref = m.fit(x)
    new_y = np.repeat(np.arange(len(centres)), 10)
    new_x = (centres[new_y] + rng.normal(0, 0.3, (len(new_y), x.shape[1]))).astype(np.float32)
    placed = m.transform(new_x)
    assert placed.shape == (len(new_x), 2)
    assert _knn_accuracy(ref, y, placed, new_y) >= 0.95
    np.testing.assert_array_equal(m.reference_coords, ref)  # the reference map does not move


def test_restored_map_transforms_like_the_original(rng):
    x, y, centres = _blobs(rng)
    m = TSNEMap(seed=0)
    ref = m.fit(x)
    restored = TSNEMap.restore(m.reference_features, m.reference_coords)
    new_y = np.repeat(np.arange(len(centres)), 10)
    new_x = (centres[new_y] + rng.normal(0, 0.3, (len(new_y), x.shape[1]))).astype(np.float32)
    assert _knn_accuracy(ref, y, restored.transform(new_x), new_y) >= 0.95


def test_wide_features_are_reduced_by_pca_first(rng):
    x, y, _ = _blobs(rng, d=120)
    m = TSNEMap(seed=0, pca_dims=30)
    xy = m.fit(x)
    assert m._pca is not None and m._pca.n_components_ == 30
    assert _knn_accuracy(xy[::2], y[::2], xy[1::2], y[1::2]) > 0.97


def test_bad_features_are_rejected(rng):
    m = TSNEMap()
    with pytest.raises(ValueError, match="at least 4 points"):
        m.fit(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        m.fit(np.zeros(10, np.float32))
    bad = rng.normal(size=(20, 4)).astype(np.float32)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.fit(bad)
    with pytest.raises(ValueError, match="not been fitted"):
        m.transform(rng.normal(size=(5, 4)))
    x, _, _ = _blobs(rng, n_per=20)
    m.fit(x)
    with pytest.raises(ValueError, match="dimensions"):
        m.transform(rng.normal(size=(5, 7)))


def _neighbours_kept(features: np.ndarray, xy: np.ndarray, k: int = 10) -> float:
    """Share of each point's ``k`` nearest neighbours in feature space that are also among its
    ``k`` nearest neighbours in the map (t-SNE's purpose: keep local neighbourhoods)."""
    def knn(z):
        return NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z, return_distance=False)[:, 1:]

    nf, nm = knn(np.asarray(features, np.float64)), knn(np.asarray(xy, np.float64))
    return float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(nf, nm, strict=True)]))


def _random_layout_kept(features: np.ndarray, xy: np.ndarray, rng, k: int = 10) -> float:
    """The baseline: the same map with its points shuffled (about k / (N - 1))."""
    return float(np.mean([_neighbours_kept(features, rng.permutation(xy), k) for _ in range(3)]))


@pytest.fixture(scope="module")
def versions(converged):
    """The session's converged engine and v1 (8 epochs: the biased model has learned the patch
    shortcut), plus v2 (retrained from v1) and v3 (from scratch, another seed)."""
    eng, v1 = converged
    v2 = eng.retrain(v1, epochs=2, progress=False)
    v3 = eng.train(epochs=8, seed=7, progress=False)
    return eng, v1, v2, v3


def _check_converged(*versions):
    # a map of an untrained network's features measures nothing: the biased val split is
    # learnable through the patch shortcut (chance: 0.1; 8 epochs reach ~0.97 on a 2-core CPU)
    for v in versions:
        assert v.metrics["val_accuracy"] >= 0.8, (v.id, v.metrics)


def test_engine_projection_fits_once_and_transforms_later_versions(versions, monkeypatch, rng):
    eng, v1, v2, _ = versions
    _check_converged(v1, v2)
    n = len(eng.dataset.labels)
    xy1 = eng.project(v1, progress=False)
    assert xy1.shape == (n, 2) and eng.projection_reference == v1.id
    calls = []
    real_transform = TSNEMap.transform
    monkeypatch.setattr(TSNEMap, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("refit")))
    monkeypatch.setattr(TSNEMap, "transform", lambda self, f, cb=None: calls.append(1) or real_transform(self, f, cb))
    xy2 = eng.project(v2, progress=False)
    assert calls == [1] and xy2.shape == xy1.shape
    np.testing.assert_array_equal(eng.project(v2, "test", progress=False), xy2[eng.dataset.indices("test")])
    assert calls == [1]  # cached
    # Both maps keep their version's feature-space neighbourhoods: the placed points are put
    # beside the reference points their own features resemble, not collapsed or scattered. A
    # random layout keeps about k / (N - 1) = 1 %; t-SNE keeps ~50-60 % here. 10x the baseline
    # leaves a wide margin for another CPU while any collapse or scatter falls to ~1x.
    for v, xy in ((v1, xy1), (v2, xy2)):
        f = eng.evaluate(v).embedding
        kept, baseline = _neighbours_kept(f, xy), _random_layout_kept(f, xy, rng)
        assert kept >= 10 * baseline, (v.id, kept, baseline)
    assert (xy2.std(axis=0) > 0.3 * xy1.std(axis=0)).all()


def test_aligned_projection_stays_in_the_reference_frame(versions, rng):
    eng, v1, _, v3 = versions  # v3 trained from scratch: no shared feature axes with v1
    _check_converged(v1, v3)
    xy1 = eng.project(v1, progress=False)
    al = eng.project(v3, progress=False, mode="aligned")
    assert al.shape == xy1.shape
    f3 = eng.evaluate(v3).embedding
    kept, baseline = _neighbours_kept(f3, al), _random_layout_kept(f3, al, rng)
    assert kept >= 10 * baseline, (kept, baseline)  # a faithful map of v3's own features
    # Started from v1's layout, the aligned map stays in v1's frame. Procrustes (best
    # translation, rotation, reflection and scale) leaves a disparity of 1 - R^2: ~1 for an
    # unrelated layout (the shuffled baseline), ~0.04 here. An independent t-SNE of the same
    # features (~0.2-0.6 here, a layout of its own) is the map alignment must beat.
    aligned = procrustes(xy1, al)[2]
    shuffled = procrustes(xy1, rng.permutation(al))[2]
    independent = procrustes(xy1, TSNEMap(seed=0).fit(f3))[2]
    assert aligned <= 0.25 * shuffled, (aligned, shuffled)
    assert aligned < independent, (aligned, independent)
    # the reference version in aligned mode is the reference map itself
    np.testing.assert_array_equal(eng.project(v1, progress=False, mode="aligned"), xy1)
    with pytest.raises(ValueError, match="unknown projection mode"):
        eng.project(v3, mode="umap")


def test_progress_is_reported_and_a_callback_can_abort(rng):
    x, _, _ = _blobs(rng, n_per=30)
    seen = []
    m = TSNEMap(seed=0)
    m.fit(x, callback=lambda stage, frac: seen.append((stage, frac)))
    assert seen[0] == ("neighbours", 0.0) and seen[-1] == ("optimise", 1.0)
    fracs = [f for s, f in seen if s == "optimise"]
    assert fracs == sorted(fracs) and len(fracs) > 10
    placed = []
    m.transform(x[:5], callback=lambda stage, frac: placed.append(frac))
    assert placed[-1] == 1.0

    class Stop(Exception):
        pass

    def abort(stage, frac):
        if frac > 0.3:
            raise Stop()

    with pytest.raises(Stop):
        TSNEMap(seed=0).fit(x, callback=abort)


# ------------------------------------------------------------------ large sets: subsample + transform
def test_large_set_is_fitted_on_a_subsample_and_the_rest_placed(rng):
    x, y, _ = _blobs(rng, n_per=300, k=5)  # 1,500 points, fitted on 300
    m = TSNEMap(seed=0, max_fit=300, n_jobs=1)
    seen = []
    xy = m.fit(x, callback=lambda stage, frac: seen.append((stage, frac)))
    assert xy.shape == (1500, 2) and np.isfinite(xy).all()
    assert len(m.reference_coords) == 300  # the map itself is the subsample
    # the subsample's own points keep their fitted places; placed points land in their clusters
    ref_rows = [np.flatnonzero((x == f).all(axis=1))[0] for f in m.reference_features]
    np.testing.assert_array_equal(xy[ref_rows], m.reference_coords)
    rest = np.setdiff1d(np.arange(1500), ref_rows)
    assert _knn_accuracy(xy[ref_rows], y[ref_rows], xy[rest], y[rest]) > 0.97
    fracs = [f for _, f in seen]
    assert fracs == sorted(fracs) and seen[-1] == ("place", 1.0)
    assert any(stage == "place" for stage, _ in seen)


def test_subsampled_map_keeps_neighbourhoods_close_to_a_full_fit(rng):
    from dashwidgets.audit.projection import neighbourhood_recall

    x, _, _ = _blobs(rng, n_per=100, k=6, spread=1.0)
    full_xy = TSNEMap(seed=0, n_jobs=1).fit(x)
    full = neighbourhood_recall(x, full_xy, k=10)
    sub = neighbourhood_recall(x, TSNEMap(seed=0, max_fit=150, n_jobs=1).fit(x), k=10)
    shuffled = neighbourhood_recall(x, rng.permutation(full_xy), k=10)
    assert shuffled < 0.1 < sub  # a random layout keeps about k / N
    assert sub > 0.5 * full


def test_neighbourhood_recall_is_one_for_the_features_themselves(rng):
    from dashwidgets.audit.projection import neighbourhood_recall

    x = rng.normal(size=(300, 2)).astype(np.float32)
    x = (x - x.mean(axis=0)) / x.std(axis=0)  # the features are standardised per axis first
    assert neighbourhood_recall(x, x * 3 + 1, k=5) == 1.0
    with pytest.raises(ValueError, match="coordinates"):
        neighbourhood_recall(x, x[:10])


def test_aligned_mode_refuses_sets_beyond_max_fit(rng):
    x, _, _ = _blobs(rng, n_per=100, k=3)
    m = TSNEMap.restore(x[:100], rng.normal(size=(100, 2)), max_fit=100)  # a fitted map, without fitting
    with pytest.raises(ValueError, match="max_fit"):
        m.align(x)
    with pytest.raises(ValueError, match="max_fit must be"):
        TSNEMap(max_fit=5)
