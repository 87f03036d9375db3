"""t-SNE map: structure is kept, later points join the same frame, the engine caches it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

import dashwidgets as dw
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


def test_engine_projection_fits_once_and_transforms_later_versions(small_ds, monkeypatch):
    sub = small_ds.subset(np.r_[0:200, 600:650, 750:850])
    eng = dw.Engine(sub)
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    xy1 = eng.project(v1, progress=False)
    assert xy1.shape == (len(sub), 2) and eng.projection_reference == v1.id
    calls = []
    real_transform = TSNEMap.transform
    monkeypatch.setattr(TSNEMap, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("refit")))
    monkeypatch.setattr(TSNEMap, "transform", lambda self, f, cb=None: calls.append(1) or real_transform(self, f, cb))
    xy2 = eng.project(v2, progress=False)
    assert calls == [1] and xy2.shape == xy1.shape
    np.testing.assert_array_equal(eng.project(v2, "test", progress=False), xy2[sub.indices("test")])
    assert calls == [1]  # cached
    # the placed points keep v2's own neighbourhoods (what the biased model groups by: the
    # spurious patch) and spread over the map instead of collapsing
    labels = sub.attributes["bias_class"]
    own = _knn_accuracy(eng.evaluate(v2).embedding[::2], labels[::2], eng.evaluate(v2).embedding[1::2], labels[1::2])
    placed = _knn_accuracy(xy2[::2], labels[::2], xy2[1::2], labels[1::2])
    assert placed > 0.8 * own
    assert (xy2.std(axis=0) > 0.3 * xy1.std(axis=0)).all()


def test_aligned_projection_stays_in_the_reference_frame(small_ds):
    sub = small_ds.subset(np.r_[0:200, 600:650, 750:850])
    eng = dw.Engine(sub)
    v1 = eng.train(epochs=2, progress=False)
    v2 = eng.train(epochs=2, seed=7, progress=False)  # from scratch: no shared feature axes
    xy1 = eng.project(v1, progress=False)
    al = eng.project(v2, progress=False, mode="aligned")
    assert al.shape == xy1.shape
    labels = sub.labels
    own = _knn_accuracy(eng.evaluate(v2).embedding[::2], labels[::2], eng.evaluate(v2).embedding[1::2], labels[1::2])
    assert _knn_accuracy(al[::2], labels[::2], al[1::2], labels[1::2]) > 0.8 * own
    # started from v1's layout: the coordinates stay correlated with the reference
    r = [abs(np.corrcoef(al[:, i], xy1[:, i])[0, 1]) for i in range(2)]
    assert min(r) > 0.5, r
    assert eng.project(v1, progress=False, mode="aligned") is not None  # the reference itself
    with pytest.raises(ValueError, match="unknown projection mode"):
        eng.project(v2, mode="umap")


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
