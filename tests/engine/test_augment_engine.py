"""Clusters, augmentation with provenance, review, retraining on augmented images, workspace."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dashwidgets as dw
from dashwidgets.audit.cluster import Cluster


@pytest.fixture(scope="module")
def eng_v(small_ds):
    eng = dw.Engine(small_ds, device="cpu")
    return eng, eng.train(epochs=2, progress=False)


def test_cluster_representatives_sizes_and_errors(eng_v):
    eng, v = eng_v
    cl = eng.cluster(v, k=5, n=4)
    train = eng.dataset.indices("train")
    assert len(cl) == 5 and cl.table["size"].sum() == len(train)
    assert sorted(np.concatenate([cl.members(c) for c in range(5)]).tolist()) == train.tolist()
    # representatives are members, closest to the centroid first (standardised embedding space)
    emb = eng.evaluate(v).embedding[train].astype(np.float64)
    z = (emb - emb.mean(0)) / np.maximum(emb.std(0), 1e-8)
    for c in range(5):
        reps = cl.representatives[c]
        assert len(reps) == 4 and set(reps) <= set(cl.members(c))
        d = np.linalg.norm(z[np.searchsorted(train, reps)] - cl.centroids[c], axis=1)
        assert np.all(np.diff(d) >= -1e-4)
        acc = eng.evaluate(v).correct[cl.members(c)].mean()
        assert cl.table.loc[c, "accuracy"] == pytest.approx(acc)
    assert eng.cluster(v, k=5, n=4) is cl  # cached
    assert isinstance(cl[2], Cluster) and len(cl[2]) == cl.table.loc[2, "size"]
    sel = eng.cluster(v, k=3, selection=train[:50])
    assert sel.split is None and len(sel.indices) == 50
    for bad in (1, 21, 2.5):
        with pytest.raises(ValueError, match="k must be an integer from 2 to 20"):
            eng.cluster(v, k=bad)
    with pytest.raises(ValueError, match="need at least k=5 images"):
        eng.cluster(v, k=5, selection=[1, 2, 3])
    with pytest.raises(ValueError, match="out of range"):
        cl[5]


def test_augment_keeps_provenance_and_errors_are_clear(eng_v):
    eng, v = eng_v
    cl = eng.cluster(v, k=4)
    src = eng.dataset.indices("train")[:20]
    aug = eng.augment(src, style=cl[1], method="color", seed=3)
    assert aug.images.shape == (20, 3, 32, 32) and aug.images.dtype == np.uint8
    np.testing.assert_array_equal(aug.sources, src)
    np.testing.assert_array_equal(aug.labels, eng.dataset.labels[src])
    assert set(aug.style_sources) <= set(cl.members(1))
    assert aug.style == {"version": v.id, "k": 4, "cluster": 1} and aug.params["seed"] == 3
    again = eng.augment(src, style=cl[1], method="color", seed=3)
    np.testing.assert_array_equal(again.images, aug.images)  # seeded
    assert eng.history[-1]["event"] == "augment" and eng.history[-1]["augmentation"] == again.id
    noisy = eng.augment(src, method="noise", region="bias")
    assert noisy.params["region"] == "bias" and noisy.style is None
    masked = eng.augment(src, method="mask", version=v, quantile=0.8)
    assert masked.params["version"] == v.id
    flipped = eng.augment(src[:3], method="torchvision", transform=lambda x: torch.flip(x, dims=[-1]))
    np.testing.assert_array_equal(flipped.images, eng.dataset.images[src[:3]][..., ::-1])

    with pytest.raises(ValueError, match="empty source selection"):
        eng.augment([], style=cl[0])
    empty = Cluster(0, 4, v.id, np.zeros(0, np.int64), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="style cluster 0 has no images"):
        eng.augment(src, style=empty)
    with pytest.raises(ValueError, match="needs a style cluster"):
        eng.augment(src, method="background")
    with pytest.raises(ValueError, match="unknown augmentation method 'gan'"):
        eng.augment(src, style=cl[0], method="gan")
    with pytest.raises(ValueError, match="needs transform"):
        eng.augment(src, method="torchvision")
    with pytest.raises(ValueError, match="keep the image shape"):
        eng.augment(src[:2], method="torchvision", transform=lambda x: x[:, :16])


def test_retrain_on_accepted_augmented_images_names_them_in_the_lineage(small_ds, tmp_path, monkeypatch):
    eng = dw.Engine(small_ds, device="cpu", workspace=tmp_path / "ws")
    v1 = eng.train(epochs=1, progress=False)
    cl = eng.cluster(v1, k=3)
    aug = eng.augment(eng.dataset.indices("train")[:40], style=cl[0], method="background")
    eng.review(aug, [0, 1, 2, 3], accept=False)
    assert aug.n_accepted == 36
    seen = {}
    from dashwidgets.train import loop as engine_module

    real_fit = engine_module.fit

    def spy(model, inputs, targets, train_idx, *a, **k):
        seen["n"] = len(train_idx)
        seen["extra"] = inputs(torch.as_tensor(train_idx[-36:])).shape
        return real_fit(model, inputs, targets, train_idx, *a, **k)

    monkeypatch.setattr(engine_module, "fit", spy)
    v2 = eng.retrain(v1, epochs=1, augmentations=[aug.id], progress=False)
    assert seen["n"] == len(small_ds.indices("train")) + 36 and seen["extra"] == (36, 3, 32, 32)
    assert v2.lineage["augmentations"] == [aug.id] and v2.lineage["augmented_images"] == 36
    assert eng.history[-1]["augmentations"] == [aug.id]
    eng.review(aug, np.arange(40), accept=False)
    with pytest.raises(ValueError, match="no accepted images"):
        eng.retrain(v1, epochs=1, augmentations=[aug])
    with pytest.raises(ValueError, match="unknown augmentation 'a9'"):
        eng.retrain(v1, epochs=1, augmentations=["a9"])
    with pytest.raises(ValueError, match=r"rows out of range \[0, 40\)"):
        eng.review(aug, [40], accept=True)

    again = dw.Engine.open(tmp_path / "ws")
    restored = again.augmentation(aug.id)
    np.testing.assert_array_equal(restored.images, aug.images)
    assert restored.n_accepted == 0 and restored.style == aug.style
    assert again.version(v2.id).lineage["augmentations"] == [aug.id]
    nxt = again.augment([1, 2], style=again.cluster(again.version("v1"), k=3)[0])
    assert nxt.id == "a2"  # ids are never reused


def test_a_corrupted_augmentation_file_is_named_and_the_rest_loads(small_ds, tmp_path):
    eng = dw.Engine(small_ds, device="cpu", workspace=tmp_path / "ws")
    v1 = eng.train(epochs=1, progress=False)
    cl = eng.cluster(v1, k=2)
    a1 = eng.augment([0, 1], style=cl[0])
    eng.augment([2, 3], style=cl[1])
    (tmp_path / "ws" / "augmentations" / "a2.npz").write_bytes(b"not an npz")
    with pytest.warns(dw.WorkspaceWarning, match="corrupted augmentation a2"):
        again = dw.Engine.open(tmp_path / "ws")
    assert [a.id for a in again.augmentations] == [a1.id]


def test_style_hit_says_a_colour_transfer_lands_in_its_style_cluster():
    """``style_hit`` is the share of results the style's clustering assigns to the style cluster.
    On colored-digits the biased model clusters by stroke colour, so a colour transfer toward a
    cluster must land mostly in it, and far more often than the same images sent toward another
    cluster land there (the baseline: ~1/k if the transfer did nothing useful, 0 if it works)."""
    ds = dw.datasets.load("colored-digits", bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)
    eng = dw.Engine(ds, device="cpu")
    v = eng.train(epochs=3, progress=False)
    cl = eng.cluster(v, k=10)
    rng = np.random.default_rng(0)
    train = ds.indices("train")
    for c in (0, 4, 7):
        src = rng.choice(np.setdiff1d(train, cl.members(c)), 40, replace=False)
        toward = eng.augment(src, style=cl[c], method="color", seed=c)
        landed = cl.assign(eng.predict(v, toward.images)["embedding"])
        assert toward.params["style_hit"] == pytest.approx(np.mean(landed == c), abs=1e-4)  # its meaning
        other = (c + 1 + rng.integers(0, cl.k - 1)) % cl.k
        away = eng.augment(src, style=cl[other], method="color", seed=c)
        baseline = float(np.mean(cl.assign(eng.predict(v, away.images)["embedding"]) == c))
        hit = toward.params["style_hit"]
        assert hit >= 0.5 and hit >= baseline + 0.4, (c, hit, baseline)  # measured: 1.0 vs 0.0
