"""scene-digits: the lazily rendered Waterbirds-like benchmark."""

import numpy as np
import pytest

from dashwidgets.datasets import load
from dashwidgets.datasets.scenes import SCENES, SceneDigits, _uniform


@pytest.fixture(scope="module")
def small():
    return SceneDigits(bias=0.9, seed=3, size=32, n_train=300, n_val=100, n_test=200)


def test_any_subset_renders_the_same_bytes_in_any_order_and_batch(small):
    idx = np.array([5, 399, 0, 250, 5, 599])
    once = small.images(idx)
    reversed_ = small.images(idx[::-1])[::-1]
    one_by_one = np.concatenate([small.images([i]) for i in idx])
    assert once.shape == (6, 3, 32, 32) and once.dtype == np.uint8
    np.testing.assert_array_equal(once, reversed_)
    np.testing.assert_array_equal(once, one_by_one)
    np.testing.assert_array_equal(once[0], once[4])  # index 5 twice


def test_same_arguments_same_set_and_another_seed_another(small):
    again = SceneDigits(bias=0.9, seed=3, size=32, n_train=300, n_val=100, n_test=200)
    other = SceneDigits(bias=0.9, seed=4, size=32, n_train=300, n_val=100, n_test=200)
    np.testing.assert_array_equal(small.labels, again.labels)
    np.testing.assert_array_equal(small.images(range(20)), again.images(range(20)))
    assert not np.array_equal(small.images(range(20)), other.images(range(20)))


def test_images_differ_from_each_other(small):
    imgs = small.images(range(50)).reshape(50, -1)
    assert len(np.unique(imgs, axis=0)) == 50


def test_metadata_follows_bias_per_split():
    s = SceneDigits(bias=0.9, seed=0, size=32, n_train=4000, n_val=1000, n_test=3000)
    assert len(s) == 8000 and s.split.tolist().count("train") == 4000
    aligned = s.bias_class == s.labels
    train, test = s.split == "train", s.split == "test"
    # kept with p=0.9, else uniform over 10 classes (matches by chance 1/10): 0.9 + 0.1/10
    assert abs(aligned[train].mean() - 0.91) < 0.02
    assert abs(aligned[test].mean() - 0.10) < 0.02  # test split is unbiased
    assert set(np.unique(s.labels)) == set(range(10))


def test_hash_streams_are_uniform_and_independent():
    u = _uniform(0, np.arange(200_000), 1, 2)
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.01
    assert not np.allclose(_uniform(0, np.arange(1000), 1), _uniform(0, np.arange(1000), 2))


def test_scene_is_the_images_background(small):
    """Images of one bias class share their scene's colours more than images of two classes."""
    imgs, obj = small.render(range(600))
    bg_mean = np.array([im[:, ~m].mean(axis=1) for im, m in zip(imgs.astype(float), obj, strict=True)])
    b = small.bias_class
    within = np.mean([np.linalg.norm(bg_mean[b == k] - bg_mean[b == k].mean(0), axis=1).mean() for k in range(10)])
    between = np.linalg.norm(bg_mean - bg_mean.mean(0), axis=1).mean()
    assert within < between


def test_object_mask_covers_the_white_digit(small):
    imgs, obj = small.render(range(100))
    assert 0.03 < obj.mean() < 0.5
    assert imgs.transpose(0, 2, 3, 1)[obj].mean() > 200  # the digit is drawn near white


def test_load_returns_a_full_imageset_equal_to_lazy_rendering():
    ds = load("scene-digits", bias=0.5, seed=1, size=32, n_train=60, n_val=20, n_test=20)
    lazy = SceneDigits(bias=0.5, seed=1, size=32, n_train=60, n_val=20, n_test=20)
    assert ds.name == "scene-digits" and len(ds) == 100
    np.testing.assert_array_equal(ds.images, lazy.images(range(100)))
    np.testing.assert_array_equal(ds.attributes["aligned"], lazy.bias_class == lazy.labels)
    np.testing.assert_array_equal(ds.masks["bias"], ~ds.masks["object"])
    assert len(SCENES) == len(ds.classes) == 10


@pytest.mark.parametrize(
    "kwargs, match",
    [({"size": 48}, "size must be one of"), ({"bias": 1.5}, "bias must be"), ({"n_val": -1}, "n_val"),
     ({"n_train": 0, "n_val": 0, "n_test": 0}, "must be in")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SceneDigits(**kwargs)


def test_out_of_range_index_is_named(small):
    with pytest.raises(IndexError, match=r"out of range \[0, 600\)"):
        small.images([600])


def test_a_million_image_set_costs_only_its_metadata():
    s = SceneDigits(size=64, n_train=800_000, n_val=100_000, n_test=100_000)
    assert len(s) == 10**6
    last = s.images([10**6 - 1])
    assert last.shape == (1, 3, 64, 64)
