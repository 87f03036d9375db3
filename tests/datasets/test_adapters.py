"""Tests for the bring-your-own-data adapters (dashwidgets.datasets.adapters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from adapter_helpers import TinyDataset
from PIL import Image

from dashwidgets.datasets import ImageSet, from_folder, from_tensors, from_torchvision
from dashwidgets.datasets.adapters import random_split, to_uint8_nchw


def _nchw(n=10, h=6, w=7, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, h, w), dtype=np.uint8)


def _labels(n=10) -> np.ndarray:
    return np.arange(n) % 3


# ====================================================================== from_tensors
def test_uint8_nchw_kept_as_is():
    x = _nchw()
    ds = from_tensors(x, _labels())
    assert isinstance(ds, ImageSet)
    np.testing.assert_array_equal(ds.images, x)
    assert ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.labels, _labels())
    assert ds.classes == ["0", "1", "2"]  # default names 0..max(label)
    assert ds.meta["source"] == "tensors" and ds.name == "tensors"


def test_uint8_nhwc_transposed():
    x = _nchw()
    ds = from_tensors(x.transpose(0, 2, 3, 1), _labels())
    assert ds.images.shape == (10, 3, 6, 7)
    np.testing.assert_array_equal(ds.images, x)


@pytest.mark.parametrize("layout", ["NHW", "N1HW", "NHW1"])
def test_grayscale_repeated_to_three_channels(layout):
    g = np.random.default_rng(3).integers(0, 256, size=(10, 6, 7), dtype=np.uint8)
    arr = {"NHW": g, "N1HW": g[:, None], "NHW1": g[..., None]}[layout]
    ds = from_tensors(arr, _labels())
    assert ds.images.shape == (10, 3, 6, 7)
    for c in range(3):
        np.testing.assert_array_equal(ds.images[:, c], g)


def test_float_in_unit_range_is_scaled():
    x = np.random.default_rng(4).random((10, 3, 6, 7)).astype(np.float32)
    x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 0, 2] = 0.0, 1.0, 0.5
    ds = from_tensors(x, _labels())
    assert ds.images.dtype == np.uint8
    assert ds.images[0, 0, 0, 0] == 0 and ds.images[0, 0, 0, 1] == 255
    assert ds.images[0, 0, 0, 2] in (127, 128)
    np.testing.assert_allclose(ds.images.astype(np.float64), x * 255.0, atol=0.51)


@pytest.mark.parametrize("bad", [1.2, -0.01, 255.0])
def test_float_outside_unit_range_rejected(bad):
    x = np.random.default_rng(4).random((10, 3, 6, 7)).astype(np.float32)
    x[5, 1, 2, 3] = bad
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        from_tensors(x, _labels())


def test_float_nan_rejected():
    x = np.random.default_rng(4).random((10, 3, 6, 7))
    x[1, 1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        from_tensors(x, _labels())


def test_integer_images_checked():
    x = _nchw().astype(np.int64)
    np.testing.assert_array_equal(from_tensors(x, _labels()).images, x)
    x[0, 0, 0, 0] = 256
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        from_tensors(x, _labels())


def test_bool_images_become_black_and_white():
    x = np.zeros((4, 6, 6), bool)
    x[:, 2:4, 2:4] = True
    ds = from_tensors(x, [0, 1, 0, 1])
    assert set(np.unique(ds.images).tolist()) == {0, 255}
    assert (ds.images[:, :, 2:4, 2:4] == 255).all()


def test_torch_tensors_accepted():
    x = torch.rand(10, 3, 6, 7)
    y = torch.tensor(_labels())
    masks = {"object": torch.zeros(10, 6, 7, dtype=torch.bool)}
    masks["object"][:, 1, 1] = True
    ds = from_tensors(x, y, masks=masks, attributes={"w": torch.arange(10)})
    assert ds.images.dtype == np.uint8 and ds.images.shape == (10, 3, 6, 7)
    np.testing.assert_allclose(ds.images.astype(np.float64), x.numpy() * 255.0, atol=0.51)
    assert ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds.labels, _labels())
    assert ds.masks["object"].dtype == bool and ds.masks["object"][:, 1, 1].all()
    assert ds.masks["object"].sum() == 10
    np.testing.assert_array_equal(ds.attributes["w"], np.arange(10))


def test_torch_tensor_with_grad_and_uint8():
    x = torch.rand(10, 1, 5, 5, requires_grad=True)
    ds = from_tensors(x, torch.tensor(_labels()))
    assert ds.images.shape == (10, 3, 5, 5)
    u = torch.randint(0, 256, (10, 5, 5, 3), dtype=torch.uint8)
    ds2 = from_tensors(u, _labels())
    np.testing.assert_array_equal(ds2.images, u.numpy().transpose(0, 3, 1, 2))


def test_length_mismatch_rejected():
    with pytest.raises(ValueError, match="lengths must match"):
        from_tensors(_nchw(10), _labels(9))
    with pytest.raises(ValueError, match="one-dimensional"):
        from_tensors(_nchw(10), np.zeros((10, 1), np.int64))


@pytest.mark.parametrize("shape", [(10, 2, 6, 7), (10, 6, 7, 2), (10, 5, 6, 7)])
def test_wrong_channel_count_rejected(shape):
    with pytest.raises(ValueError, match="channels"):
        from_tensors(np.zeros(shape, np.uint8), _labels())


def test_wrong_rank_rejected():
    with pytest.raises(ValueError, match="rank"):
        from_tensors(np.zeros((10, 6), np.uint8), _labels())


def test_labels_validation():
    # Whole-number floats are accepted as labels, fractional ones are not.
    ds = from_tensors(_nchw(), _labels().astype(np.float32))
    assert ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds.labels, _labels())
    with pytest.raises(ValueError, match="integer"):
        from_tensors(_nchw(), _labels() + 0.5)
    with pytest.raises(ValueError, match="non-negative"):
        from_tensors(_nchw(), _labels() - 1)
    # Explicit class names: labels must index into them.
    with pytest.raises(ValueError, match="out of range"):
        from_tensors(_nchw(), _labels(), classes=["a", "b"])


def test_explicit_classes_split_attributes():
    split = ["train"] * 6 + ["val"] * 2 + ["test"] * 2
    ds = from_tensors(_nchw(), _labels(), classes=["a", "b", "c", "d"], split=split,
                      attributes={"g": np.arange(10) % 2}, name="mine")
    assert ds.classes == ["a", "b", "c", "d"]
    assert ds.split.tolist() == split
    np.testing.assert_array_equal(ds.attributes["g"], np.arange(10) % 2)
    assert ds.name == "mine"
    with pytest.raises(ValueError, match="unknown split"):
        from_tensors(_nchw(), _labels(), split=["train"] * 9 + ["holdout"])


def test_single_label_value_refused_unless_classes_named():
    # It used to be padded to classes ["0", "1"], a class with no images (issue 12).
    with pytest.raises(ValueError, match="at least two classes"):
        from_tensors(_nchw(4), np.zeros(4, np.int64))
    assert from_tensors(_nchw(4), np.zeros(4, np.int64), classes=["0", "1"]).classes == ["0", "1"]


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.5, 0.25, 0.25), (0.6, 0.0, 0.4), (3, 1, 1)])
def test_default_random_split(fractions):
    n = 97
    x = _nchw(n, 4, 4)
    y = np.arange(n) % 2
    a = from_tensors(x, y, seed=5, fractions=fractions)
    fr = np.asarray(fractions, float) / sum(fractions)
    counts = a.counts()
    for s, f in zip(("train", "val", "test"), fr, strict=False):
        assert abs(counts[s] - round(f * n)) <= 1, (s, counts, fractions)
    assert sum(counts.values()) == n
    b = from_tensors(x, y, seed=5, fractions=fractions)
    np.testing.assert_array_equal(a.split, b.split)
    if fr[1] > 0:
        c = from_tensors(x, y, seed=6, fractions=fractions)
        assert a.split.tolist() != c.split.tolist()
    # It is a shuffle, not the first 80 % as train.
    if fractions == (0.8, 0.1, 0.1):
        assert a.split[-10:].tolist() != ["test"] * 10


def test_random_split_rejects_bad_fractions():
    for fr in [(0.5, 0.5), (-0.1, 0.5, 0.6), (0, 0, 0)]:
        with pytest.raises(ValueError, match="fractions"):
            random_split(10, fr, 0)


def test_to_uint8_nchw_nhwc_with_three_rows():
    """An NCHW image whose width happens to be 3 is left alone (channels already in dim 1)."""
    x = _nchw(2, 5, 3)
    np.testing.assert_array_equal(to_uint8_nchw(x), x)


# ====================================================================== from_folder
def _png(path: Path, rgb, size=(8, 6)) -> None:
    """Write a solid-colour RGB png of ``size`` (w, h)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, tuple(int(v) for v in rgb)).save(path)


COLOURS = {"apple": (200, 10, 10), "banana": (230, 220, 40), "cherry": (120, 0, 40)}


@pytest.fixture
def class_tree(tmp_path) -> Path:
    root = tmp_path / "fruit"
    for _ci, (cname, rgb) in enumerate(COLOURS.items()):
        for k in range(4):
            _png(root / cname / f"img{k}.png", np.array(rgb) + k)
    return root


def test_from_folder_class_layout(class_tree):
    ds = from_folder(class_tree, seed=0, fractions=(0.5, 0.25, 0.25))
    assert ds.classes == ["apple", "banana", "cherry"]
    assert len(ds) == 12
    assert ds.images.shape == (12, 3, 6, 8)  # PIL size is (w, h)
    assert ds.name == "fruit"
    files = ds.meta["files"]
    assert ds.meta["source"] == "folder" and ds.meta["root"] == str(class_tree)
    assert len(files) == 12
    for i, rel in enumerate(files):
        cname = Path(rel).parts[0]
        assert ds.classes[ds.labels[i]] == cname
        k = int(Path(rel).stem[3:])
        # The pixels are the ones written to that file.
        np.testing.assert_array_equal(ds.images[i, :, 0, 0], np.array(COLOURS[cname]) + k)
    c = ds.counts()
    assert abs(c["train"] - 6) <= 1 and abs(c["val"] - 3) <= 1 and abs(c["test"] - 3) <= 1
    again = from_folder(class_tree, seed=0, fractions=(0.5, 0.25, 0.25))
    np.testing.assert_array_equal(again.split, ds.split)


def test_from_folder_classes_sorted(tmp_path):
    root = tmp_path / "r"
    for cname in ["zebra", "Ant", "mole"]:
        _png(root / cname / "a.png", (1, 2, 3))
        _png(root / cname / "b.png", (1, 2, 3))
    ds = from_folder(root, name="animals")
    assert ds.classes == sorted(["zebra", "Ant", "mole"])
    assert ds.name == "animals"
    for i, rel in enumerate(ds.meta["files"]):
        assert ds.classes[ds.labels[i]] == Path(rel).parts[0]


def test_from_folder_split_layout(tmp_path):
    root = tmp_path / "data"
    layout = {"train": {"cat": 3, "dog": 2}, "val": {"cat": 1, "dog": 1}, "test": {"dog": 2, "cat": 1}}
    for split, per_class in layout.items():
        for cname, n in per_class.items():
            for k in range(n):
                _png(root / split / cname / f"{k}.png", (10, 20, 30) if cname == "cat" else (200, 100, 0))
    ds = from_folder(root)
    assert ds.classes == ["cat", "dog"]
    assert ds.counts() == {"train": 5, "val": 2, "test": 3}
    for i, rel in enumerate(ds.meta["files"]):
        split, cname = Path(rel).parts[:2]
        assert ds.split[i] == split
        assert ds.classes[ds.labels[i]] == cname
        expected = (10, 20, 30) if cname == "cat" else (200, 100, 0)
        np.testing.assert_array_equal(ds.images[i, :, 3, 3], expected)


def test_from_folder_split_layout_class_missing_in_a_split(tmp_path):
    root = tmp_path / "data"
    _png(root / "train" / "a" / "0.png", (0, 0, 0))
    _png(root / "train" / "b" / "0.png", (9, 9, 9))
    _png(root / "test" / "b" / "0.png", (9, 9, 9))
    ds = from_folder(root)
    assert ds.classes == ["a", "b"]
    assert ds.counts() == {"train": 2, "val": 0, "test": 1}
    assert ds.labels[ds.indices("test")].tolist() == [1]


def test_from_folder_masks(tmp_path, class_tree):
    mroot = tmp_path / "masks"
    for rel in sorted(p.relative_to(class_tree) for p in class_tree.rglob("*.png")):
        m = np.zeros((6, 8), np.uint8)
        k = int(rel.stem[3:])
        m[1 : 3 + k, 2:5] = 255 if k % 2 else 1  # any non-zero value counts
        (mroot / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(m).save(mroot / rel)
    ds = from_folder(class_tree, masks={"object": mroot})
    m = ds.masks["object"]
    assert m.dtype == bool and m.shape == (12, 6, 8)
    for i, rel in enumerate(ds.meta["files"]):
        k = int(Path(rel).stem[3:])
        expected = np.zeros((6, 8), bool)
        expected[1 : 3 + k, 2:5] = True
        np.testing.assert_array_equal(m[i], expected, err_msg=rel)


def test_from_folder_mask_other_extension_and_resized(tmp_path):
    root, mroot = tmp_path / "imgs", tmp_path / "m"
    for cname in ("a", "b"):
        (root / cname).mkdir(parents=True)
        Image.new("RGB", (16, 16), (50, 60, 70)).save(root / cname / "x.jpg")
        m = np.zeros((16, 16), np.uint8)
        m[:8, :8] = 200  # top-left quadrant
        (mroot / cname).mkdir(parents=True)
        Image.fromarray(m).save(mroot / cname / "x.png")  # same stem, other extension
    ds = from_folder(root, size=8, masks={"region": mroot})
    assert ds.images.shape == (2, 3, 8, 8)
    expected = np.zeros((8, 8), bool)
    expected[:4, :4] = True
    for i in range(2):
        np.testing.assert_array_equal(ds.masks["region"][i], expected)


def test_from_folder_missing_mask(tmp_path, class_tree):
    mroot = tmp_path / "masks"
    mroot.mkdir()
    with pytest.raises(ValueError, match="mask missing"):
        from_folder(class_tree, masks={"object": mroot})


def test_from_folder_non_image_file(class_tree):
    bad = class_tree / "banana" / "notes.txt"
    bad.write_text("not a picture")
    with pytest.raises(ValueError, match="notes.txt"):
        from_folder(class_tree)


def test_from_folder_corrupt_png(class_tree):
    bad = class_tree / "cherry" / "broken.png"
    bad.write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(ValueError, match="broken.png"):
        from_folder(class_tree)


def test_from_folder_truncated_png(class_tree):
    good = (class_tree / "apple" / "img0.png").read_bytes()
    bad = class_tree / "apple" / "cut.png"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        from_folder(class_tree)


def test_from_folder_hidden_files_ignored(class_tree):
    (class_tree / "apple" / ".DS_Store").write_bytes(b"\x00\x01junk")
    (class_tree / ".cache").mkdir()
    _png(class_tree / ".cache" / "x.png", (0, 0, 0))  # a hidden folder is not a class
    (class_tree / "banana" / ".hidden.png").write_bytes(b"garbage")
    ds = from_folder(class_tree)
    assert ds.classes == ["apple", "banana", "cherry"]
    assert len(ds) == 12
    assert not any(Path(f).name.startswith(".") for f in ds.meta["files"])


def test_from_folder_sizes_differ(tmp_path):
    root = tmp_path / "mixed"
    _png(root / "a" / "0.png", (255, 0, 0), size=(8, 8))
    _png(root / "a" / "1.png", (255, 0, 0), size=(12, 10))
    _png(root / "b" / "0.png", (0, 0, 255), size=(8, 8))
    with pytest.raises(ValueError, match="size"):
        from_folder(root)
    ds = from_folder(root, size=16)
    assert ds.images.shape == (3, 3, 16, 16)
    ds = from_folder(root, size=(10, 20))  # (h, w)
    assert ds.images.shape == (3, 3, 10, 20)
    # Solid colours survive the resize.
    for i, rel in enumerate(ds.meta["files"]):
        expected = (255, 0, 0) if Path(rel).parts[0] == "a" else (0, 0, 255)
        assert (ds.images[i].reshape(3, -1).T == expected).all()


def test_from_folder_grayscale_and_rgba_become_rgb(tmp_path):
    root = tmp_path / "modes"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir(parents=True)
    Image.new("L", (5, 5), 77).save(root / "a" / "g.png")
    Image.new("RGBA", (5, 5), (10, 20, 30, 128)).save(root / "b" / "c.png")
    ds = from_folder(root)
    assert ds.images.shape == (2, 3, 5, 5)
    assert (ds.images[0] == 77).all()
    np.testing.assert_array_equal(ds.images[1, :, 0, 0], [10, 20, 30])


def test_from_folder_needs_two_classes(tmp_path):
    root = tmp_path / "one"
    _png(root / "only" / "0.png", (0, 0, 0))
    with pytest.raises(ValueError, match="at least 2"):
        from_folder(root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="at least 2"):
        from_folder(empty)


def test_from_folder_no_images(tmp_path):
    root = tmp_path / "r"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        from_folder(root)


def test_from_folder_missing_root(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        from_folder(tmp_path / "nope")


# ====================================================================== from_torchvision


def _pil_items(n=6, size=(9, 7), seed=0):
    rng = np.random.default_rng(seed)
    arrs = [rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]
    return [(Image.fromarray(a), i % 2) for i, a in enumerate(arrs)], arrs


def test_from_torchvision_pil_items():
    items, arrs = _pil_items()
    ds = from_torchvision(TinyDataset(items, classes=["even", "odd"]), seed=1)
    assert ds.classes == ["even", "odd"]
    assert ds.images.shape == (6, 3, 7, 9)
    for i, a in enumerate(arrs):
        np.testing.assert_array_equal(ds.images[i], a.transpose(2, 0, 1))
    np.testing.assert_array_equal(ds.labels, np.arange(6) % 2)
    assert ds.name == "TinyDataset"
    assert set(ds.split.tolist()) <= {"train", "val", "test"}
    # Explicit classes override the attribute.
    ds2 = from_torchvision(TinyDataset(items, classes=["even", "odd"]), classes=["e", "o"], name="x")
    assert ds2.classes == ["e", "o"] and ds2.name == "x"


def test_from_torchvision_tensor_items_1hw():
    g = [torch.rand(1, 5, 6) for _ in range(4)]
    items = [(t, torch.tensor(i % 2)) for i, t in enumerate(g)]  # tensor labels too
    ds = from_torchvision(TinyDataset(items, classes=["no", "yes"]))
    assert ds.classes == ["no", "yes"]
    assert ds.images.shape == (4, 3, 5, 6)
    for i, t in enumerate(g):
        expected = (t[0].numpy() * 255 + 0.5).astype(np.uint8)
        for c in range(3):
            np.testing.assert_array_equal(ds.images[i, c], expected)
    np.testing.assert_array_equal(ds.labels, [0, 1, 0, 1])


def test_from_torchvision_chw_tensors_and_arrays():
    t = torch.rand(3, 4, 4)
    a = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    ds = from_torchvision(TinyDataset([(t, 0), (a, 1)]))
    assert ds.classes == ["0", "1"]  # no classes attribute: default names
    np.testing.assert_allclose(ds.images[0].astype(float), t.numpy() * 255, atol=0.51)
    np.testing.assert_array_equal(ds.images[1], a.transpose(2, 0, 1))


def test_from_torchvision_dict_sets_splits():
    tr_items, _ = _pil_items(5, seed=1)
    te_items, _ = _pil_items(3, seed=2)
    ds = from_torchvision(
        {"train": TinyDataset(tr_items, classes=["a", "b"]), "test": TinyDataset(te_items, classes=["a", "b"])}
    )
    assert ds.split.tolist() == ["train"] * 5 + ["test"] * 3
    assert ds.counts() == {"train": 5, "val": 0, "test": 3}
    assert ds.classes == ["a", "b"]
    np.testing.assert_array_equal(ds.labels, [0, 1, 0, 1, 0, 0, 1, 0])
    with pytest.raises(ValueError, match="unknown split"):
        from_torchvision({"training": TinyDataset(tr_items)})


def test_from_torchvision_resize():
    items = [(Image.new("RGB", (10, 10), (255, 0, 0)), 0), (Image.new("RGB", (20, 14), (0, 255, 0)), 1)]
    with pytest.raises(ValueError, match="size"):
        from_torchvision(TinyDataset(items))
    ds = from_torchvision(TinyDataset(items), size=8)
    assert ds.images.shape == (2, 3, 8, 8)
    assert (ds.images[0].reshape(3, -1).T == (255, 0, 0)).all()
    assert (ds.images[1].reshape(3, -1).T == (0, 255, 0)).all()


@pytest.mark.parametrize("bad_item", [Image.new("RGB", (4, 4)), (Image.new("RGB", (4, 4)),), 3])
def test_from_torchvision_item_not_a_pair(bad_item):
    items = [(Image.new("RGB", (4, 4)), 0), bad_item]
    with pytest.raises(ValueError, match="item 1 is not an"):
        from_torchvision(TinyDataset(items))


def test_from_torchvision_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        from_torchvision(TinyDataset([]))
    with pytest.raises(TypeError, match="map-style"):
        from_torchvision(iter([(Image.new("RGB", (4, 4)), 0)]))
    with pytest.raises(ValueError, match="rank"):
        from_torchvision(TinyDataset([(np.zeros((2, 3, 4, 4)), 0), (np.zeros((2, 3, 4, 4)), 1)]))


def test_from_folder_corrupt_mask_names_the_file(tmp_path):
    from PIL import Image

    import dashwidgets as dw

    for cls in ("a", "b"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        (tmp_path / "mask" / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "img" / cls / "x.png")
        Image.new("L", (8, 8)).save(tmp_path / "mask" / cls / "x.png")
    (tmp_path / "mask" / "b" / "x.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"cannot read mask file .*b.x\.png"):
        dw.datasets.from_folder(tmp_path / "img", masks={"object": tmp_path / "mask"})
