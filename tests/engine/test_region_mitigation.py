"""Region-classifier mitigation: eng.augment(region=rc) greys out / noises exactly the top-share
pixels of each image's (specific) or the mean (general) map, with provenance; bad input named;
eng.mitigation_table's rows and columns, measured with eng.evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dashwidgets as dw
from dashwidgets.audit.mitigation import COLUMNS

GREY = 128  # classical.targeted's grey 0.5 as uint8


@pytest.fixture(scope="module")
def setup():
    ds = dw.datasets.load("colored-digits", bias=0.99, seed=0, n_train=120, n_val=40, n_test=60)
    eng = dw.Engine(ds, device="cpu")
    rc = eng.region_classifier("bias_class", epochs=1, progress=False)
    return eng, rc


def _top(maps, quantile):
    """The paper's quantile: pixels at or above the map's ``quantile`` are changed."""
    thr = np.quantile(maps.reshape(len(maps), -1), quantile, axis=1)[:, None, None]
    return maps >= thr


def test_specific_mask_changes_exactly_the_pixels_above_the_quantile(setup):
    eng, rc = setup
    src = eng.dataset.indices("train")[:12]
    aug = eng.augment(src, method="mask", region=rc, map="specific", quantile=np.float32(0.7))
    top = _top(rc.maps(src), 0.7)
    orig = eng.dataset.images[src]
    assert (aug.images.transpose(1, 0, 2, 3)[:, top] == GREY).all()
    np.testing.assert_array_equal(aug.images.transpose(1, 0, 2, 3)[:, ~top], orig.transpose(1, 0, 2, 3)[:, ~top])
    # roughly the share asked for (ties in the block-constant maps can add a few pixels)
    assert 0.3 <= top.mean() < 0.45
    assert aug.params == {"region": "classifier", "region_classifier": rc.key, "attribute": "bias_class",
                          "map": "specific", "quantile": pytest.approx(0.7), "seed": 0}
    json.dumps(aug.meta())  # the provenance is kept in the workspace as JSON
    # specific maps differ per image, so the masked regions do too
    assert len({m.tobytes() for m in top}) > 1


def test_general_uses_one_map_for_all_and_noise_only_inside(setup):
    eng, rc = setup
    src = eng.dataset.indices("train")[:10]
    top = _top(rc.general_map("train")[None], 0.6)[0]
    masked = eng.augment(src, method="mask", region=rc, map="general", quantile=0.6)
    changed = (masked.images != GREY).any(1)  # [N, H, W]: pixels not greyed
    assert not changed[:, top].any() and changed[:, ~top].any()
    noisy = eng.augment(src, method="noise", region=rc, map="general", quantile=0.6, seed=1)
    diff = (noisy.images != eng.dataset.images[src]).any(1)
    assert not diff[:, ~top].any() and diff[:, top].mean() > 0.5
    assert noisy.params["map"] == "general" and noisy.params["region_classifier"] == rc.key


def test_bad_region_input_is_named(setup):
    eng, rc = setup
    src = eng.dataset.indices("train")[:4]
    for q in (0, 1, 1.5, -0.1, "0.3"):
        with pytest.raises(ValueError, match="quantile"):
            eng.augment(src, method="mask", region=rc, quantile=q)
    with pytest.raises(ValueError, match="unknown map kind 'mean'"):
        eng.augment(src, method="mask", region=rc, map="mean")
    with pytest.raises(ValueError, match="goes with region=<a region classifier>"):
        eng.augment(src, method="mask", region="bias", map="general")
    with pytest.raises(ValueError, match="test split"):
        eng.augment(eng.dataset.indices("test")[:3], method="mask", region=rc)
    other = dw.Engine(dw.datasets.load("colored-digits", bias=0.9, seed=1, n_train=120, n_val=40, n_test=60),
                      device="cpu")
    with pytest.raises(ValueError, match="another engine's dataset"):
        other.augment(other.dataset.indices("train")[:3], method="mask", region=rc)


def test_mitigation_table_rows_columns_and_gap(setup):
    eng, rc = setup
    v = eng.train(epochs=1, progress=False)
    ref = eng.train(epochs=1, seed=3, progress=False)
    n_before = len(eng.versions)
    t = eng.mitigation_table(v, rc, quantiles=(0.7,), kinds=(("general", "mask"), ("specific", "noise")),
                             epochs=1, reference=ref, progress=False)
    assert list(t.columns) == list(COLUMNS)
    assert t["kind"].tolist() == ["biased", "general", "specific", "reference"]
    assert t["noise"].tolist()[1:3] == ["mask", "noise"] and t["quantile"].tolist()[1:3] == [0.7, 0.7]
    assert len(eng.versions) == n_before + 2 and t["model"].tolist()[0] == v.id and t["model"].tolist()[-1] == ref.id
    test = eng.dataset.indices("test")
    aligned = np.asarray(eng.dataset.attributes["aligned"])[test].astype(bool)
    for _, row in t.iterrows():
        correct = eng.evaluate(row["model"], "test").correct
        a, c = correct[aligned].mean(), correct[~aligned].mean()
        assert row["accuracy"] == pytest.approx(correct.mean())
        assert row["aligned_accuracy"] == pytest.approx(a) and row["conflicting_accuracy"] == pytest.approx(c)
        assert row["gap"] == pytest.approx(abs(a - c))
    for _, row in t.iloc[1:3].iterrows():
        aug = eng.augmentation(row["augmentation"])
        m = eng.version(row["model"])
        assert aug.params["quantile"] == pytest.approx(0.7)
        assert m.lineage["augmentations"] == [aug.id] and m.parent == v.parent
        # the paper trains on the mitigated images instead of the originals
        assert m.lineage["replaced_images"] == len(eng.dataset.indices("train"))
        np.testing.assert_array_equal(aug.sources, eng.dataset.indices("train"))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        eng.mitigation_table(v, rc, quantiles=(1.2,))
    with pytest.raises(ValueError, match="each kind must be"):
        eng.mitigation_table(v, rc, kinds=(("global", "mask"),))


def test_replace_trains_on_the_augmented_images_instead_of_their_sources(setup, monkeypatch):
    """``train(replace=True)``: the accepted images take their sources' places in what the
    training loop sees; without it they join the originals."""
    from dashwidgets.engine import training

    eng, rc = setup
    ds = eng.dataset
    train = ds.indices("train")
    aug = eng.augment(train[:30], method="mask", region=rc)
    seen = []
    real_fit = training.loop.fit

    def spy(model, inputs, targets, train_idx, *args, **kwargs):
        seen.append((np.asarray(train_idx).copy(), targets.clone()))
        return real_fit(model, inputs, targets, train_idx, *args, **kwargs)

    monkeypatch.setattr(training.loop, "fit", spy)
    swapped = eng.train(epochs=1, augmentations=[aug], replace=True, progress=False)
    added = eng.train(epochs=1, augmentations=[aug], progress=False)
    (idx_swap, y_swap), (idx_add, _) = seen
    extra = len(ds) + np.arange(30)
    assert set(idx_swap) == set(train[30:]) | set(extra)  # the 30 sources are out, their copies in
    assert set(idx_add) == set(train) | set(extra)
    np.testing.assert_array_equal(y_swap[extra].numpy(), ds.labels[train[:30]])  # copies keep the labels
    assert swapped.lineage["replaced_images"] == 30 and added.lineage["replaced_images"] == 0
    with pytest.raises(ValueError, match="pass augmentations"):
        eng.train(epochs=1, replace=True, progress=False)
    with pytest.raises(TypeError, match="replace must be True or False"):
        eng.train(epochs=1, augmentations=[aug], replace="yes", progress=False)
