"""Tests for the ImageSet container (dashwidgets.datasets.imageset)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from dashwidgets.datasets import SPLITS, ImageSet, load

N, H, W = 6, 8, 10


def _kwargs(**over) -> dict:
    rng = np.random.default_rng(0)
    kw = dict(
        images=rng.integers(0, 256, size=(N, 3, H, W), dtype=np.uint8),
        labels=np.array([0, 1, 2, 0, 1, 2]),
        split=np.array(["train", "train", "val", "test", "test", "train"]),
        classes=["cat", "dog", "bird"],
        attributes={"aligned": np.array([True, False, True, True, False, True]),
                    "group": np.arange(N) % 2},
        masks={"object": rng.random((N, H, W)) > 0.5},
        name="toy",
        meta={"source": "unit test"},
    )
    kw.update(over)
    return kw


@pytest.fixture
def ds() -> ImageSet:
    return ImageSet(**_kwargs())


# ---------------------------------------------------------------------- construction
def test_basic_views(ds):
    assert len(ds) == N
    assert ds.num_classes == 3
    assert ds.image_size == (H, W)
    assert ds.counts() == {"train": 3, "val": 1, "test": 2}
    assert SPLITS == ("train", "val", "test")
    r = repr(ds)
    assert "toy" in r and "6 images" in r and "8x10" in r and "3 classes" in r
    assert "train=3" in r and "masks=['object']" in r


def test_normalises_dtypes():
    kw = _kwargs(
        labels=np.array([0, 1, 2, 0, 1, 2], dtype=np.int32),
        split=["train", "train", "val", "test", "test", "train"],  # plain list
        classes=[0, 1, 2],  # non-string names become strings
        masks={"object": (np.arange(N * H * W).reshape(N, H, W) % 3).astype(np.uint8)},
    )
    ds = ImageSet(**kw)
    assert ds.labels.dtype == np.int64
    assert ds.split.dtype.kind == "U" and ds.split.tolist()[2] == "val"
    assert ds.classes == ["0", "1", "2"]
    assert ds.masks["object"].dtype == bool
    np.testing.assert_array_equal(ds.masks["object"], kw["masks"]["object"] != 0)


def test_images_made_contiguous():
    imgs = np.zeros((N, H, W, 3), np.uint8).transpose(0, 3, 1, 2)  # non-contiguous view
    ds = ImageSet(**_kwargs(images=imgs))
    assert ds.images.flags["C_CONTIGUOUS"]
    assert ds.images.shape == (N, 3, H, W)


@pytest.mark.parametrize(
    "over, match",
    [
        (dict(images=np.zeros((N, H, W), np.uint8)), "rank"),
        (dict(images=np.zeros((N, 3, H, W, 1), np.uint8)), "rank"),
        (dict(images=np.zeros((N, 4, H, W), np.uint8)), "channels"),
        (dict(images=np.zeros((N, H, W, 3), np.uint8)), "channels"),
        (dict(images=np.zeros((N, 3, H, W), np.float32)), "uint8"),
        (dict(images=np.zeros((N, 3, H, W), np.int64)), "uint8"),
        (dict(images=np.zeros((0, 3, H, W), np.uint8), labels=np.zeros(0, np.int64),
              split=np.zeros(0, str), attributes={}, masks={}), "empty"),
        (dict(images=np.zeros((N, 3, 2, 2), np.uint8), masks={}), "4x4"),
        (dict(labels=np.array([0, 1, 3, 0, 1, 2])), "out of range"),
        (dict(labels=np.array([0, -1, 2, 0, 1, 2])), "out of range"),
        (dict(labels=np.array([0.0, 1, 2, 0, 1, 2])), "integers"),
        (dict(labels=np.array([0, 1, 2, 0, 1])), "labels must have shape"),
        (dict(labels=np.zeros((N, 1), np.int64)), "labels must have shape"),
        (dict(split=np.array(["train"] * (N - 1))), "split must have shape"),
        (dict(split=np.array(["train"] * (N - 1) + ["training"])), "unknown split"),
        (dict(split=np.array(["train"] * (N - 1) + ["Test"])), "unknown split"),
        (dict(attributes={"aligned": np.ones(N + 1, bool)}), "attribute 'aligned'"),
        (dict(attributes={"aligned": np.ones((N, 2), bool)}), "attribute 'aligned'"),
        (dict(masks={"object": np.ones((N, H, W + 1), bool)}), "mask 'object'"),
        (dict(masks={"bias": np.ones((N - 1, H, W), bool)}), "mask 'bias'"),
        (dict(classes=["only"], labels=np.zeros(N, np.int64)), "at least 2 classes"),
        (dict(classes=[], labels=np.zeros(N, np.int64)), "at least 2 classes"),
        (dict(classes=["cat", "dog", "cat"]), "unique"),
        (dict(classes=["1", 1, "2"]), "unique"),  # equal once stringified
    ],
)
def test_validation_errors(over, match):
    with pytest.raises(ValueError, match=match):
        ImageSet(**_kwargs(**over))


# ---------------------------------------------------------------------- indices / subset
def test_indices(ds):
    np.testing.assert_array_equal(ds.indices(), np.arange(N))
    np.testing.assert_array_equal(ds.indices("train"), [0, 1, 5])
    np.testing.assert_array_equal(ds.indices("val"), [2])
    np.testing.assert_array_equal(ds.indices(["val", "test"]), [2, 3, 4])
    np.testing.assert_array_equal(ds.indices(("train", "val", "test")), np.arange(N))
    assert ds.indices("train").dtype == np.int64
    assert ds.indices(None).dtype == np.int64
    with pytest.raises(ValueError, match="unknown split"):
        ds.indices("validation")
    with pytest.raises(ValueError, match="unknown split"):
        ds.indices(["train", "dev"])


def test_subset(ds):
    sub = ds.subset([4, 0, 2])
    assert isinstance(sub, ImageSet) and sub is not ds
    assert len(sub) == 3
    np.testing.assert_array_equal(sub.images, ds.images[[4, 0, 2]])
    np.testing.assert_array_equal(sub.labels, [1, 0, 2])
    assert sub.split.tolist() == ["test", "train", "val"]
    np.testing.assert_array_equal(sub.attributes["aligned"], [False, True, True])
    np.testing.assert_array_equal(sub.attributes["group"], [0, 0, 0])
    np.testing.assert_array_equal(sub.masks["object"], ds.masks["object"][[4, 0, 2]])
    assert sub.classes == ds.classes and sub.name == ds.name and sub.meta == ds.meta
    # A copy: changing the subset leaves the original alone.
    sub.images[0] = 0
    sub.meta["x"] = 1
    assert ds.images[4].any()
    assert "x" not in ds.meta
    # Works with numpy index arrays from indices().
    tr = ds.subset(ds.indices("train"))
    assert tr.counts() == {"train": 3, "val": 0, "test": 0}


def test_subset_rejects_bad_indices(ds):
    with pytest.raises(ValueError, match="out of range"):
        ds.subset([0, N])
    with pytest.raises(ValueError, match="boolean"):
        ds.subset(np.ones(N, bool))


def test_check_indices(ds):
    out = ds.check_indices([5, 0, 3])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [5, 0, 3])
    np.testing.assert_array_equal(ds.check_indices(np.int32(2)), [2])  # scalar
    np.testing.assert_array_equal(ds.check_indices(np.array([1, 1], np.uint8)), [1, 1])
    empty = ds.check_indices([])
    assert empty.dtype == np.int64 and empty.size == 0
    with pytest.raises(ValueError, match=r"out of range.*\[6\]"):
        ds.check_indices([0, 6])
    with pytest.raises(ValueError, match=r"out of range.*-1"):
        ds.check_indices([-1, 2])  # no Python-style negative indexing
    with pytest.raises(ValueError, match=r"\.\.\."):
        ds.check_indices(np.arange(100, 110))  # long lists are abbreviated
    with pytest.raises(ValueError, match="boolean"):
        ds.check_indices(np.array([True, False, True, False, False, False]))
    with pytest.raises(ValueError, match="integers"):
        ds.check_indices(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="one-dimensional"):
        ds.check_indices(np.zeros((2, 2), np.int64))


def test_class_index(ds):
    assert ds.class_index("cat") == 0
    assert ds.class_index("bird") == 2
    assert ds.class_index(1) == 1
    assert ds.class_index(np.int64(2)) == 2
    with pytest.raises(ValueError, match="unknown class 'fish'"):
        ds.class_index("fish")
    with pytest.raises(ValueError, match="out of range"):
        ds.class_index(3)
    with pytest.raises(ValueError, match="out of range"):
        ds.class_index(-1)


def test_class_index_names_that_look_like_ints():
    d = load("colored-digits", seed=0, size=16, n_train=10, n_val=0, n_test=0)
    assert d.class_index("7") == 7 and d.class_index(7) == 7
    with pytest.raises(ValueError, match="unknown class"):
        d.class_index("10")


# ---------------------------------------------------------------------- fingerprint
def test_fingerprint_stable_across_loads():
    kw = dict(seed=3, size=16, n_train=40, n_val=10, n_test=10)
    a = load("texture-digits", **kw)
    b = load("texture-digits", **kw)
    fa = a.fingerprint()
    assert isinstance(fa, str) and len(fa) == 16
    int(fa, 16)  # hexadecimal
    assert fa == b.fingerprint()
    assert a.fingerprint() == fa  # repeated calls agree


def test_fingerprint_changes_with_content(ds):
    base = ds.fingerprint()
    # One pixel changed, on a new ImageSet.
    imgs = ds.images.copy()
    imgs[3, 1, 4, 7] ^= 1
    assert ImageSet(**_kwargs(images=imgs)).fingerprint() != base
    # One label changed.
    labels = ds.labels.copy()
    labels[0] = 1
    assert ImageSet(**_kwargs(labels=labels)).fingerprint() != base
    # One split changed.
    split = ds.split.copy()
    split[2] = "test"
    assert ImageSet(**_kwargs(split=split)).fingerprint() != base
    # Class names changed.
    assert ImageSet(**_kwargs(classes=["cat", "dog", "fish"])).fingerprint() != base
    # Same content again: same fingerprint.
    assert ImageSet(**_kwargs()).fingerprint() == base


def test_fingerprint_after_one_pixel_on_benchmark():
    d = load("patch-digits", seed=0, size=16, n_train=30, n_val=5, n_test=5)
    imgs = d.images.copy()
    imgs[-1, 0, -1, -1] = 255 - imgs[-1, 0, -1, -1]
    d2 = ImageSet(images=imgs, labels=d.labels, split=d.split, classes=d.classes)
    assert d2.fingerprint() != d.fingerprint()


# ---------------------------------------------------------------------- persistence
def _assert_same(a: ImageSet, b: ImageSet) -> None:
    np.testing.assert_array_equal(a.images, b.images)
    assert b.images.dtype == np.uint8
    np.testing.assert_array_equal(a.labels, b.labels)
    assert b.labels.dtype == np.int64
    assert a.split.tolist() == b.split.tolist()
    assert a.classes == b.classes
    assert a.name == b.name and isinstance(b.name, str)
    assert set(a.attributes) == set(b.attributes)
    for k in a.attributes:
        np.testing.assert_array_equal(a.attributes[k], b.attributes[k])
        assert a.attributes[k].dtype == b.attributes[k].dtype
    assert set(a.masks) == set(b.masks)
    for k in a.masks:
        np.testing.assert_array_equal(a.masks[k], b.masks[k])
        assert b.masks[k].dtype == bool
    assert a.fingerprint() == b.fingerprint()


def test_to_arrays_from_arrays_round_trip(ds):
    arrays = ds.to_arrays()
    assert set(arrays) >= {"images", "labels", "split", "classes", "name",
                           "attr__aligned", "attr__group", "mask__object"}
    back = ImageSet.from_arrays(arrays, meta={"k": 1})
    _assert_same(ds, back)
    assert back.meta == {"k": 1}
    assert ImageSet.from_arrays(arrays).meta == {}


def test_round_trip_through_npz():
    d = load("colored-digits", bias=0.9, seed=1, size=16, n_train=20, n_val=5, n_test=5)
    buf = io.BytesIO()
    np.savez(buf, **d.to_arrays())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        back = ImageSet.from_arrays(z, meta=d.meta)
    _assert_same(d, back)
    assert back.meta == d.meta
    assert back.name == "colored-digits"
