"""Tests for the embedded biased benchmarks (dashwidgets.datasets.benchmarks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashwidgets.datasets import BENCHMARKS, ImageSet, load
from dashwidgets.datasets.benchmarks import PALETTE, _base_digits, _shape_masks, _split_pools

SMALL = dict(seed=0, size=32, n_train=200, n_val=50, n_test=100)


@pytest.fixture(scope="module", params=BENCHMARKS)
def small(request) -> ImageSet:
    return load(request.param, bias=0.9, **SMALL)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """4-neighbour binary dilation of ``[N, H, W]`` masks, ``steps`` times."""
    g = mask.copy()
    for _ in range(steps):
        h = g.copy()
        h[:, 1:] |= g[:, :-1]
        h[:, :-1] |= g[:, 1:]
        h[:, :, 1:] |= g[:, :, :-1]
        h[:, :, :-1] |= g[:, :, 1:]
        g = h
    return g


def _assert_share(observed: np.ndarray, p: float, what: str, sigmas: float = 4.0) -> None:
    """Binomial check: the share of True in ``observed`` is within ``sigmas`` std of ``p``."""
    n = len(observed)
    share = float(np.mean(observed))
    std = math.sqrt(max(p * (1 - p), 1e-12) / n)
    assert abs(share - p) <= sigmas * std + 1e-12, (
        f"{what}: share {share:.4f} vs expected {p:.4f} (n={n}, {sigmas} sigma = {sigmas * std:.4f})"
    )


# ---------------------------------------------------------------------- structure
def test_benchmark_names():
    assert BENCHMARKS == ("colored-digits", "texture-digits", "patch-digits")


def test_images_shape_and_dtype(small):
    n = SMALL["n_train"] + SMALL["n_val"] + SMALL["n_test"]
    s = SMALL["size"]
    assert isinstance(small, ImageSet)
    assert small.images.shape == (n, 3, s, s)
    assert small.images.dtype == np.uint8
    assert small.image_size == (s, s)
    assert len(small) == n
    # Real content, not a blank canvas: every image has both dark and bright pixels.
    assert (small.images.reshape(n, -1).max(1) > 100).all()
    assert (small.images.reshape(n, -1).min(1) < 60).all()


def test_labels_and_classes(small):
    assert small.labels.dtype == np.int64
    assert small.labels.shape == (len(small),)
    assert small.classes == [str(i) for i in range(10)]
    assert small.num_classes == 10
    assert small.labels.min() >= 0 and small.labels.max() <= 9
    # 200 training images drawn from ten stratified pools: every digit shows up.
    assert set(small.labels[small.indices("train")].tolist()) == set(range(10))


def test_split_values_counts_and_order(small):
    expected = (
        ["train"] * SMALL["n_train"] + ["val"] * SMALL["n_val"] + ["test"] * SMALL["n_test"]
    )
    assert small.split.tolist() == expected
    assert small.counts() == {"train": 200, "val": 50, "test": 100}
    np.testing.assert_array_equal(small.indices("val"), np.arange(200, 250))


def test_attributes_consistent(small):
    aligned = small.attributes["aligned"]
    bias_class = small.attributes["bias_class"]
    assert aligned.dtype == bool and aligned.shape == (len(small),)
    assert np.issubdtype(bias_class.dtype, np.integer) and bias_class.shape == (len(small),)
    assert bias_class.min() >= 0 and bias_class.max() <= 9
    np.testing.assert_array_equal(aligned, bias_class == small.labels)
    # bias=0.9: both aligned and conflicting images exist in train.
    tr = small.indices("train")
    assert aligned[tr].any() and (~aligned[tr]).any()


def test_masks_shape_dtype_nonempty(small):
    n, s = len(small), SMALL["size"]
    assert set(small.masks) == {"object", "bias"}
    for key in ("object", "bias"):
        m = small.masks[key]
        assert m.dtype == bool, key
        assert m.shape == (n, s, s), key
        assert (m.sum(axis=(1, 2)) > 0).all(), f"empty {key} mask"
        assert (m.sum(axis=(1, 2)) < s * s).all(), f"{key} mask covers the whole image"


def test_object_mask_marks_the_digit(small):
    """The object mask is where the digit is drawn: it differs visibly from its surroundings."""
    x = small.images.astype(np.float64)
    om = small.masks["object"]
    ring = _dilate(om, 3) & ~_dilate(om, 1)  # a band just around the digit
    inside = (x * om[:, None]).sum((2, 3)) / om.sum((1, 2))[:, None]
    around = (x * ring[:, None]).sum((2, 3)) / np.maximum(ring.sum((1, 2)), 1)[:, None]
    if small.name == "texture-digits":
        # white strokes over a darker texture
        assert (inside.mean(1) > around.mean(1) + 40).all()
    else:
        # strokes on (near) black: the digit is far brighter (in its brightest channel)
        assert (inside.max(1) > around.max(1) + 40).all()


def test_meta_and_name(small):
    assert small.name in BENCHMARKS
    assert small.meta["benchmark"] == small.name
    assert small.meta["bias"] == pytest.approx(0.9)
    assert small.meta["seed"] == 0 and small.meta["size"] == 32
    assert (small.meta["n_train"], small.meta["n_val"], small.meta["n_test"]) == (200, 50, 100)


# ---------------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", BENCHMARKS)
def test_same_seed_same_bytes(name):
    kw = dict(bias=0.8, seed=7, size=16, n_train=60, n_val=20, n_test=30)
    a, b = load(name, **kw), load(name, **kw)
    assert a.images.tobytes() == b.images.tobytes()
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.split, b.split)
    for k in ("aligned", "bias_class"):
        np.testing.assert_array_equal(a.attributes[k], b.attributes[k])
    for k in ("object", "bias"):
        assert a.masks[k].tobytes() == b.masks[k].tobytes()
    assert a.fingerprint() == b.fingerprint()


@pytest.mark.parametrize("name", BENCHMARKS)
def test_different_seed_different_images(name):
    kw = dict(bias=0.8, size=16, n_train=60, n_val=20, n_test=30)
    a, b = load(name, seed=1, **kw), load(name, seed=2, **kw)
    assert a.images.shape == b.images.shape
    assert a.images.tobytes() != b.images.tobytes()
    # Not just a few pixels: most images differ.
    differ = (a.images != b.images).reshape(len(a), -1).any(1)
    assert differ.mean() > 0.9
    assert a.fingerprint() != b.fingerprint()


def test_no_two_samples_identical():
    """The affine jitter makes repeated base digits render differently."""
    ds = load("colored-digits", bias=1.0, seed=0, size=16, n_train=300, n_val=0, n_test=0)
    flat = {img.tobytes() for img in ds.images}
    assert len(flat) == len(ds)


# ---------------------------------------------------------------------- sizes and counts
@pytest.mark.parametrize("name", BENCHMARKS)
def test_size_48(name):
    ds = load(name, bias=0.9, seed=0, size=48, n_train=20, n_val=10, n_test=10)
    assert ds.images.shape == (40, 3, 48, 48)
    assert ds.images.dtype == np.uint8
    assert ds.masks["object"].shape == (40, 48, 48)
    assert ds.masks["bias"].shape == (40, 48, 48)
    assert (ds.masks["object"].sum((1, 2)) > 0).all()
    assert (ds.masks["bias"].sum((1, 2)) > 0).all()
    assert ds.meta["size"] == 48


def test_zero_count_split_is_absent():
    ds = load("texture-digits", bias=0.9, seed=0, size=16, n_train=30, n_val=0, n_test=12)
    assert ds.counts() == {"train": 30, "val": 0, "test": 12}
    assert ds.split.tolist() == ["train"] * 30 + ["test"] * 12
    assert len(ds.indices("val")) == 0


def test_more_than_one_chunk():
    """Splits larger than the internal render chunk (1024) are rendered completely."""
    ds = load("texture-digits", bias=0.5, seed=0, size=16, n_train=1100, n_val=0, n_test=0)
    assert ds.images.shape == (1100, 3, 16, 16)
    assert (ds.masks["object"].sum((1, 2)) > 0).all()
    np.testing.assert_array_equal(ds.masks["bias"], ~ds.masks["object"])
    # The last chunk is not a copy of the first one.
    assert ds.images[1024:1100].tobytes() != ds.images[0:76].tobytes()


# ---------------------------------------------------------------------- bias statistics
STAT = dict(seed=11, size=16, n_train=2000, n_val=500, n_test=2000)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_high_bias_train_val_aligned_test_unbiased(name):
    ds = load(name, bias=0.99, **STAT)
    aligned = ds.attributes["aligned"]
    # With prob. bias its own class, otherwise uniform over 10 classes (1 in 10 matches).
    p = 0.99 + 0.01 * 0.1
    _assert_share(aligned[ds.indices("train")], p, "train aligned share")
    _assert_share(aligned[ds.indices("val")], p, "val aligned share")
    # The test split is always drawn with bias 0.
    _assert_share(aligned[ds.indices("test")], 0.1, "test aligned share")


def test_zero_bias_is_chance_and_uniform():
    ds = load("patch-digits", bias=0.0, **STAT)
    tr = ds.indices("train")
    aligned = ds.attributes["aligned"][tr]
    _assert_share(aligned, 0.1, "train aligned share at bias 0")
    # bias_class is uniform over the 10 kinds at bias 0 ...
    bc = ds.attributes["bias_class"][tr]
    counts = np.bincount(bc, minlength=10)
    n = len(tr)
    sd = math.sqrt(n * 0.1 * 0.9)
    assert (np.abs(counts - n / 10) <= 4 * sd).all(), counts
    # ... and not tied to the label: within each label the aligned share is still ~0.1.
    labels = ds.labels[tr]
    for c in range(10):
        sel = labels == c
        _assert_share(aligned[sel], 0.1, f"aligned share for label {c}", sigmas=4.5)


def test_bias_one_all_train_and_val_aligned():
    ds = load("colored-digits", bias=1.0, **STAT)
    aligned = ds.attributes["aligned"]
    assert aligned[ds.indices("train")].all()
    assert aligned[ds.indices("val")].all()
    _assert_share(aligned[ds.indices("test")], 0.1, "test aligned share at bias 1")


def test_integer_bias_accepted():
    a = load("colored-digits", bias=1, seed=0, size=16, n_train=50, n_val=0, n_test=0)
    b = load("colored-digits", bias=0, seed=0, size=16, n_train=50, n_val=0, n_test=0)
    assert a.attributes["aligned"].all()
    assert not b.attributes["aligned"].all()


def test_intermediate_bias():
    ds = load("texture-digits", bias=0.5, **STAT)
    _assert_share(ds.attributes["aligned"][ds.indices("train")], 0.5 + 0.5 * 0.1, "bias 0.5")


def test_labels_roughly_balanced():
    ds = load("colored-digits", bias=0.5, **STAT)
    labels = ds.labels[ds.indices("train")]
    for c in range(10):
        _assert_share(labels == c, 0.1, f"share of label {c}", sigmas=4.5)


# ---------------------------------------------------------------------- pixels carry the bias
def test_colored_digits_stroke_colour_is_bias_colour():
    ds = load("colored-digits", bias=0.5, seed=3, size=32, n_train=200, n_val=50, n_test=100)
    om = ds.masks["object"]
    np.testing.assert_array_equal(ds.masks["bias"], om)
    x = ds.images.astype(np.float64)
    mean = (x * om[:, None]).sum((2, 3)) / om.sum((1, 2))[:, None]  # [N, 3]
    cos = _unit(mean) @ _unit(PALETTE).T  # [N, 10]
    bias_class = ds.attributes["bias_class"]
    np.testing.assert_array_equal(cos.argmax(1), bias_class)
    # Conflicting images carry another class's colour, not their own.
    conflict = ~ds.attributes["aligned"]
    assert conflict.sum() > 20
    assert (cos.argmax(1)[conflict] != ds.labels[conflict]).all()
    # Background (away from the strokes) is near black.
    far = ~_dilate(om, 2)
    bg = (x * far[:, None]).sum((1, 2, 3)) / (3 * far.sum((1, 2)))
    assert (bg < 20).all()


def test_texture_digits_background_is_bias():
    ds = load("texture-digits", bias=0.5, seed=3, size=32, n_train=200, n_val=50, n_test=100)
    om, bm = ds.masks["object"], ds.masks["bias"]
    np.testing.assert_array_equal(bm, ~om)
    x = ds.images.astype(np.float64)
    # Background tint (far from the digit) points to the bias class's tint.
    far = ~_dilate(om, 2)
    mean = (x * far[:, None]).sum((2, 3)) / far.sum((1, 2))[:, None]
    tint = 0.35 + 0.65 * PALETTE
    pred = (_unit(mean) @ _unit(tint).T).argmax(1)
    assert (pred == ds.attributes["bias_class"]).mean() >= 0.98
    # Digit strokes are white-ish (all channels bright), whatever the background.
    inside = (x * om[:, None]).sum((2, 3)) / om.sum((1, 2))[:, None]
    assert (inside.min(1) > 150).all()


def test_texture_digits_stripe_orientation():
    """Kind 0 is horizontal stripes (constant along rows), kind 1 vertical (constant along columns)."""
    ds = load("texture-digits", bias=1.0, seed=5, size=32, n_train=300, n_val=0, n_test=0)
    x = ds.images.astype(np.float64).mean(1)
    far = ~_dilate(ds.masks["object"], 2)
    bc = ds.attributes["bias_class"]

    def spread(i: int, axis: int) -> float:
        """Mean std of background pixels along ``axis`` (1: within rows, 0: within columns)."""
        v = np.moveaxis(x[i], axis, 1)
        m = np.moveaxis(far[i], axis, 1)
        stds = [v[r][m[r]].std() for r in range(v.shape[0]) if m[r].sum() >= 4]
        return float(np.mean(stds))

    for kind, flat_axis in ((0, 1), (1, 0)):
        idx = np.flatnonzero(bc == kind)
        assert len(idx) >= 5
        for i in idx:
            flat, across = spread(i, flat_axis), spread(i, 1 - flat_axis)
            assert flat * 3 < across, (kind, i, flat, across)


@pytest.mark.parametrize("size", [16, 32, 48])
def test_patch_digits_bias_is_coloured_square_beside_digit(size):
    ds = load("patch-digits", bias=0.5, seed=3, size=size, n_train=150, n_val=25, n_test=25)
    om, bm = ds.masks["object"], ds.masks["bias"]
    bc = ds.attributes["bias_class"]
    x = ds.images.astype(np.int64)
    p = max(5, int(round(size * 0.22)))
    assert p >= 5
    shapes = _shape_masks(p)
    overlaps = 0
    for i in range(len(ds)):
        ys, xs = np.nonzero(bm[i])
        y0, x0 = ys.min(), xs.min()
        # a single filled p x p square
        assert ys.max() - y0 + 1 == p and xs.max() - x0 + 1 == p, i
        assert bm[i].sum() == p * p, i
        box = x[i][:, y0 : y0 + p, x0 : x0 + p]
        obj_box = om[i][y0 : y0 + p, x0 : x0 + p]
        overlaps += bool(obj_box.any())
        # Coloured (bright, non-digit) pixels in the box form the class's shape, in its colour.
        bright = (box.max(0) > 100) & ~obj_box
        np.testing.assert_array_equal(bright, shapes[bc[i]] & ~obj_box, err_msg=f"image {i}")
        colours = box[:, bright].T
        assert len(colours) > 0
        assert np.abs(colours - PALETTE[bc[i]] * 255).max() <= 30, i
        # The shape is painted over the digit, never the other way round.
        assert not (shapes[bc[i]] & obj_box).any(), i
        # No saturated colour anywhere outside the box: the digit itself is grey.
        sat = (x[i].max(0) - x[i].min(0)) > 40
        assert not (sat & ~bm[i]).any(), i
    if size >= 32:
        assert overlaps == 0, "bias box overlaps the digit"
    else:
        # At 16 px the corners are tight; the documented fallback must stay rare.
        assert overlaps <= 0.03 * len(ds), overlaps


def test_patch_digits_palette_for_all_kinds():
    ds = load("patch-digits", bias=0.0, seed=4, size=32, n_train=300, n_val=0, n_test=0)
    bm = ds.masks["bias"]
    x = ds.images.astype(np.float64)
    bc = ds.attributes["bias_class"]
    assert set(bc.tolist()) == set(range(10))
    bright = (x.max(1) > 100) & bm  # patch pixels
    mean = (x * bright[:, None]).sum((2, 3)) / bright.sum((1, 2))[:, None]
    dist = np.linalg.norm(mean[:, None] - PALETTE[None] * 255, axis=2)  # [N, 10]
    np.testing.assert_array_equal(dist.argmin(1), bc)


# ---------------------------------------------------------------------- disjoint base pools
def test_split_pools_disjoint_and_complete():
    _, labels = _base_digits()
    assert len(labels) == 1797
    pools = _split_pools(labels, np.random.default_rng(0))
    assert set(pools) == {"train", "val", "test"}
    tr, va, te = (set(pools[s].tolist()) for s in ("train", "val", "test"))
    assert len(tr) == len(pools["train"]) and len(va) == len(pools["val"]) and len(te) == len(pools["test"])
    assert not tr & va and not tr & te and not va & te
    assert tr | va | te == set(range(1797))
    # Sizes follow 60 / 15 / 25 % (rounded per class).
    assert abs(len(tr) - 0.60 * 1797) <= 10
    assert abs(len(va) - 0.15 * 1797) <= 10
    assert abs(len(te) - 0.25 * 1797) <= 10
    # Stratified: every class is present in every pool in about the same proportion.
    for s, pool in pools.items():
        per_class = np.bincount(labels[pool], minlength=10)
        totals = np.bincount(labels, minlength=10)
        frac = {"train": 0.60, "val": 0.15, "test": 0.25}[s]
        assert (np.abs(per_class - frac * totals) <= 1).all(), (s, per_class)


def test_split_pools_seeded():
    _, labels = _base_digits()
    a = _split_pools(labels, np.random.default_rng(5))
    b = _split_pools(labels, np.random.default_rng(5))
    c = _split_pools(labels, np.random.default_rng(6))
    for s in a:
        np.testing.assert_array_equal(a[s], b[s])
    assert any(set(a[s].tolist()) != set(c[s].tolist()) for s in a)


def test_base_digits():
    digits, labels = _base_digits()
    assert digits.shape == (1797, 8, 8)
    assert digits.dtype == np.float32 and labels.dtype == np.int64
    assert digits.min() >= 0.0 and digits.max() <= 1.0
    assert set(labels.tolist()) == set(range(10))


# ---------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="mnist"), "unknown benchmark"),
        (dict(name="Colored-Digits"), "unknown benchmark"),
        (dict(bias=-0.1), "bias"),
        (dict(bias=1.5), "bias"),
        (dict(bias="high"), "bias"),
        (dict(bias=float("nan")), "bias"),
        (dict(bias=True), "bias"),
        (dict(size=8), "size"),
        (dict(size=15), "size"),
        (dict(size=1000), "size"),
        (dict(size=32.0), "size"),
        (dict(n_train=-1), "n_train"),
        (dict(n_val=-5), "n_val"),
        (dict(n_test=2.5), "n_test"),
        (dict(n_train=0, n_val=0, n_test=0), "positive"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = dict(name="colored-digits", bias=0.9, seed=0, size=16, n_train=10, n_val=5, n_test=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        load(**args)


def test_size_bounds_inclusive():
    assert load("patch-digits", size=16, n_train=3, n_val=0, n_test=0).image_size == (16, 16)
    assert load("colored-digits", size=np.int64(20), n_train=3, n_val=0, n_test=0).image_size == (20, 20)


def test_numpy_scalar_bias_is_accepted():
    import numpy as np

    from dashwidgets.datasets import load

    a = load("colored-digits", bias=np.float32(0.5), n_train=50, n_val=0, n_test=0)
    b = load("colored-digits", bias=0.5, n_train=50, n_val=0, n_test=0)
    assert (a.images == b.images).all()
