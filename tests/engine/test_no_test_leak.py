"""No val or test image reaches training by any augmentation path (issue 13): not as a source,
not as a style image whose colours or background are copied, not through a record edited on
disk, and the images a training run actually iterates over are train images or augmentations
made from train images only. The widget paths (lasso -> ClusterGallery / AugmentedView -> retrain)
are covered in tests/browser/test_browser_augment.py."""

from __future__ import annotations

import numpy as np
import pytest

import dashwidgets as dw
from dashwidgets.engine import training as training_service

METHODS = {
    "color": {},
    "background": {},
    "mask": {"region": "bias"},
    "noise": {"region": "attribution"},
    "torchvision": {"transform": lambda im: im.flip(-1)},
}


@pytest.fixture(scope="module")
def eng_v(small_ds):
    eng = dw.Engine(small_ds, device="cpu")
    return eng, eng.train(epochs=1, progress=False)


def _splits(eng, idx):
    idx = np.asarray(idx)
    return set(eng.dataset.split[idx[idx >= 0]].tolist())


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_refuses_evaluation_sources_and_styles_only_from_train(eng_v, method):
    eng, v = eng_v
    ds = eng.dataset
    # a style clustering of every split: its clusters hold val and test images too
    cl = eng.cluster(v, k=3, split=None)
    style = cl[0]
    assert _splits(eng, style.members) >= {"train", "test"}, "precondition: the style cluster mixes splits"
    train, test = ds.indices("train"), ds.indices("test")
    needs_style = method in ("color", "background")
    with pytest.raises(ValueError, match=r"come from the test split"):
        eng.augment(np.r_[train[:5], test[:3]], style=style if needs_style else None, method=method, version=v,
                    **METHODS[method])
    aug = eng.augment(train[:20], style=style if needs_style else None, method=method, version=v, **METHODS[method])
    assert _splits(eng, aug.sources) == {"train"}
    assert _splits(eng, aug.style_sources) <= {"train"}
    if needs_style:
        assert (aug.style_sources >= 0).all() and _splits(eng, aug.style_sources) == {"train"}


def test_a_style_cluster_without_train_images_is_refused(eng_v):
    eng, v = eng_v
    test = eng.dataset.indices("test")
    cl = eng.cluster(v, k=2, selection=test[:40])
    for method in ("color", "background"):
        with pytest.raises(ValueError, match="has no train images to take the style from"):
            eng.augment(eng.dataset.indices("train")[:5], style=cl[0], method=method)


def test_a_training_run_iterates_over_train_images_and_train_made_augmentations_only(eng_v, monkeypatch):
    eng, v = eng_v
    ds = eng.dataset
    cl = eng.cluster(v, k=3, split=None)  # mixed splits: the style pool must still be train only
    train = ds.indices("train")
    rng = np.random.default_rng(0)
    augs = [
        eng.augment(rng.choice(train, 30, replace=False), style=cl[c % 3], method=m, version=v, **METHODS[m])
        for c, m in enumerate(sorted(METHODS))
    ]
    eng.review(augs[0], [0, 1, 2], accept=False)  # rejected images must not be fed either
    seen = {}
    real_fit = training_service.loop.fit

    def spy(model, inputs, targets, train_idx, cfg, device, validate, emit, stop):
        seen["train_idx"] = np.asarray(train_idx).copy()
        seen["targets"] = targets.cpu().numpy().copy()
        return real_fit(model, inputs, targets, train_idx, cfg, device, validate, emit, stop)

    monkeypatch.setattr(training_service.loop, "fit", spy)
    v2 = eng.retrain(v, epochs=1, augmentations=augs, progress=False)
    idx = seen["train_idx"]
    original, extra = idx[idx < len(ds)], idx[idx >= len(ds)] - len(ds)
    assert _splits(eng, original) == {"train"} and len(original) == len(train)
    accepted = sum(a.n_accepted for a in augs)
    assert len(extra) == accepted == sum(len(a) for a in augs) - 3
    # every fed augmented image was made from train images, with its source's label
    sources = np.concatenate([a.sources[a.accepted] for a in augs])
    styles = np.concatenate([a.style_sources[a.accepted] for a in augs])
    assert _splits(eng, sources) == {"train"} and _splits(eng, styles) <= {"train"}
    np.testing.assert_array_equal(seen["targets"][len(ds):], ds.labels[sources])
    assert v2.lineage["source_splits"] == ["train"]
    assert v2.lineage["augmented_images"] == accepted


def test_an_augmentation_edited_on_disk_to_hold_a_test_source_cannot_join_training(small_ds, tmp_path):
    ws = tmp_path / "ws"
    eng = dw.Engine(small_ds, device="cpu", workspace=ws)
    v = eng.train(epochs=1, progress=False)
    train, test = small_ds.indices("train"), small_ds.indices("test")
    aug = eng.augment(train[:10], method="noise", region="bias", version=v)
    path = ws / "augmentations" / f"{aug.id}.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["sources"][3] = test[0]  # an older version of the code, or a hand edit
    np.savez(path, **arrays)
    again = dw.Engine(small_ds, device="cpu", workspace=ws)
    with pytest.raises(ValueError, match=rf"augmentation {aug.id} holds 1 image\(s\) made from .*test"):
        again.retrain(v.id, epochs=1, augmentations=[aug.id], progress=False)
    # rejecting that image makes the rest usable again
    again.review(aug.id, [3], accept=False)
    v3 = again.retrain(v.id, epochs=1, augmentations=[aug.id], progress=False)
    assert v3.lineage["source_splits"] == ["train"]
