"""Hostile input for the bring-your-own-data adapters (issue 12, "data adapters").

Each test holds one of the observed failures (or one of the same kind): the adapters must refuse
bad data with an error that names the offending value, index, file or shape, or accept it with a
documented meaning, never silently change it.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from adapter_helpers import TinyDataset
from PIL import Image

from dashwidgets.datasets import from_folder, from_tensors, from_torchvision
from dashwidgets.datasets.adapters import to_uint8_nchw


def _nchw(n=10, h=6, w=7, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, h, w), dtype=np.uint8)


def _labels(n=10) -> np.ndarray:
    return np.arange(n) % 3


def _png(path: Path, rgb, size=(8, 6)) -> None:
    """Write a solid-colour RGB png of ``size`` (w, h)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, tuple(int(v) for v in rgb)).save(path)


def _img(v=0):
    return Image.new("RGB", (6, 6), (v, v, v))


@pytest.fixture
def class_tree(tmp_path) -> Path:
    """fruit/{apple,banana,cherry}/img{0..3}.png, 8x6 solid colours."""
    root = tmp_path / "fruit"
    for ci, cname in enumerate(["apple", "banana", "cherry"]):
        for k in range(4):
            _png(root / cname / f"img{k}.png", (60 * ci + k, 10, 10))
    return root


# ====================================================================== 1. labels must be integral
@pytest.mark.parametrize("bad", [1.7, float("nan"), float("inf")])
def test_torchvision_non_integral_label_refused_naming_item(bad):
    items = [(_img(), 0), (_img(), 1), (_img(), bad), (_img(), 1)]
    with pytest.raises(ValueError, match=rf"item 2 is {re.escape(repr(bad))}") as e:
        from_torchvision(TinyDataset(items, classes=["a", "b"]))
    assert "integer class ind" in str(e.value)


def test_torchvision_tensor_and_float_labels_that_are_whole_numbers_accepted():
    items = [(_img(), torch.tensor(1.0)), (_img(), 0.0), (_img(), np.int64(1)), (_img(), torch.tensor([0]))]
    ds = from_torchvision(TinyDataset(items, classes=["a", "b"]))
    assert ds.labels.tolist() == [1, 0, 1, 0]


def test_torchvision_fractional_tensor_label_refused():
    items = [(_img(), torch.tensor(0)), (_img(), torch.tensor(1.7))]
    with pytest.raises(ValueError, match=r"item 1 is 1\.7"):
        from_torchvision(TinyDataset(items, classes=["a", "b"]))


def test_torchvision_label_error_names_the_split():
    train = TinyDataset([(_img(), 0), (_img(), 1)], classes=["a", "b"])
    test = TinyDataset([(_img(), 1), (_img(), 0.5)], classes=["a", "b"])
    with pytest.raises(ValueError, match=r"dataset\['test'\] item 1 is 0\.5"):
        from_torchvision({"train": train, "test": test})


@pytest.mark.parametrize("bad", ["1", None, True])
def test_torchvision_non_numeric_label_refused(bad):
    # int("1") used to turn the string into class 1 and int(True) into class 1.
    items = [(_img(), 0), (_img(), 1), (_img(), bad)]
    with pytest.raises(ValueError, match=r"item 2 is " + re.escape(repr(bad))):
        from_torchvision(TinyDataset(items, classes=["a", "b"]))


def test_torchvision_one_hot_label_refused():
    items = [(_img(), torch.tensor([1.0, 0.0])), (_img(), torch.tensor([0.0, 1.0]))]
    with pytest.raises(ValueError, match=r"item 0.*single class index.*shape \(2,\)"):
        from_torchvision(TinyDataset(items, classes=["a", "b"]))


@pytest.mark.parametrize(
    "bad, shown", [(0.5, "0.5"), (np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")]
)
def test_tensors_non_integral_label_names_index_and_value(bad, shown):
    y = _labels().astype(np.float64)
    y[7] = bad
    with pytest.raises(ValueError, match=rf"labels\[7\] is {re.escape(shown)}"):
        from_tensors(_nchw(), y)


def test_tensors_bool_and_string_labels_refused():
    with pytest.raises(ValueError, match=r"labels\[0\] is False.*astype\(int\)"):
        from_tensors(_nchw(4), np.array([False, True, True, False]))
    with pytest.raises(ValueError, match=r"labels\[0\] is 'cat'"):
        from_tensors(_nchw(2), np.array(["cat", "dog"]))


def test_tensors_negative_label_names_index():
    y = _labels()
    y[4] = -2
    with pytest.raises(ValueError, match=r"non-negative.*labels\[4\] is -2"):
        from_tensors(_nchw(), y)


def test_tensors_label_that_is_an_id_not_a_class_index_is_refused_not_allocated():
    # 2**62 as a class index would name 2**62 classes: the kernel died of memory (found by the
    # hypothesis property test in a fresh checkout); now a clear error, at once
    y = _labels()
    y[3] = 2**62
    with pytest.raises(ValueError, match=rf"labels\[3\] is {2**62}: .*classes=\[\.\.\.\]"):
        from_tensors(_nchw(), y)
    y[3] = 100_000  # one past the largest default class index
    with pytest.raises(ValueError, match="at most 100000"):
        from_tensors(_nchw(), y)


# ====================================================================== 2. empty class folders
def test_folder_empty_class_refused_naming_it(class_tree):
    (class_tree / "durian").mkdir()
    with pytest.raises(ValueError, match=r"durian") as e:
        from_folder(class_tree)
    assert "allow_empty_classes" in str(e.value)
    assert "apple" not in str(e.value)


def test_folder_class_holding_only_junk_is_empty(class_tree):
    (class_tree / "durian").mkdir()
    (class_tree / "durian" / "Thumbs.db").write_bytes(b"\x00junk")
    with pytest.raises(ValueError, match=r"durian"):
        from_folder(class_tree)


def test_folder_allow_empty_classes_keeps_them_with_a_warning(class_tree):
    (class_tree / "durian").mkdir()
    (class_tree / "aardvark").mkdir()
    with pytest.warns(UserWarning, match=r"aardvark.*durian"):
        ds = from_folder(class_tree, allow_empty_classes=True)
    assert ds.classes == ["aardvark", "apple", "banana", "cherry", "durian"]
    assert len(ds) == 12
    assert np.bincount(ds.labels, minlength=5).tolist() == [0, 4, 4, 4, 0]


def test_folder_split_layout_class_empty_everywhere_refused(tmp_path):
    root = tmp_path / "data"
    _png(root / "train" / "a" / "0.png", (0, 0, 0))
    _png(root / "train" / "b" / "0.png", (9, 9, 9))
    (root / "test" / "c").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"test.c"):
        from_folder(root)
    # A class missing from one split only is not empty (tested in test_adapters.py too).
    _png(root / "test" / "c" / "0.png", (5, 5, 5))
    assert from_folder(root).classes == ["a", "b", "c"]


# ====================================================================== 3. junk files
def test_folder_junk_files_skipped_silently(class_tree):
    (class_tree / "apple" / "Thumbs.db").write_bytes(b"\x00\x01junk")
    (class_tree / "banana" / "desktop.ini").write_text("[.ShellClassInfo]")
    (class_tree / "banana" / "THUMBS.DB").write_bytes(b"junk")  # Windows names ignore case
    (class_tree / "cherry" / ".DS_Store").write_bytes(b"\x00junk")
    (class_tree / "cherry" / "._img0.png").write_bytes(b"AppleDouble")
    macosx = class_tree / "__MACOSX" / "apple"  # zip from a Mac: not a class
    macosx.mkdir(parents=True)
    (macosx / "._img0.png").write_bytes(b"AppleDouble")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # skipped silently: any warning fails the test
        ds = from_folder(class_tree)
    assert ds.classes == ["apple", "banana", "cherry"]
    assert len(ds) == 12
    assert all(Path(f).name.startswith("img") for f in ds.meta["files"])


def test_folder_macosx_does_not_hide_the_split_layout(tmp_path):
    root = tmp_path / "data"
    for split in ("train", "test"):
        for cname in ("a", "b"):
            _png(root / split / cname / "0.png", (1, 2, 3))
    (root / "__MACOSX" / "train").mkdir(parents=True)
    ds = from_folder(root)
    assert ds.classes == ["a", "b"]
    assert ds.counts() == {"train": 2, "val": 0, "test": 2}


def test_folder_every_unreadable_file_listed_in_one_error(class_tree):
    (class_tree / "banana" / "notes.txt").write_text("not a picture")
    (class_tree / "cherry" / "broken.png").write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(ValueError) as e:
        from_folder(class_tree)
    msg = str(e.value)
    assert "notes.txt" in msg and "broken.png" in msg
    assert str(class_tree / "cherry" / "broken.png") in msg  # the full path, not just the name


def test_folder_nested_folder_reported(class_tree):
    _png(class_tree / "apple" / "more" / "x.png", (1, 1, 1))
    with pytest.warns(UserWarning, match=r"apple.more"):
        ds = from_folder(class_tree)
    assert len(ds) == 12


# ====================================================================== 4. single class
def test_tensors_single_class_refused():
    with pytest.raises(ValueError, match=r"at least two classes"):
        from_tensors(_nchw(4), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=r"at least two classes"):
        from_tensors(_nchw(4), np.full(4, 2))


def test_tensors_single_class_accepted_when_classes_are_named():
    # Naming the classes says the others exist (e.g. a test set that holds one class).
    ds = from_tensors(_nchw(4), np.zeros(4, np.int64), classes=["cat", "dog"])
    assert ds.classes == ["cat", "dog"] and ds.num_classes == 2


def test_torchvision_single_class_refused():
    with pytest.raises(ValueError, match=r"at least two classes"):
        from_torchvision(TinyDataset([(_img(), 0), (_img(), 0)]))


def test_tensors_label_gaps_warn_naming_the_missing_classes():
    y = np.array([0, 3, 0, 3, 0, 3])
    with pytest.warns(UserWarning, match=r"never use class indices 1, 2 \(of 0\.\.3\)"):
        ds = from_tensors(_nchw(6), y)
    assert ds.classes == ["0", "1", "2", "3"]


# ====================================================================== 5. layouts and channels
def test_rgba_channels_last_drops_alpha():
    rgba = np.random.default_rng(1).integers(0, 256, size=(5, 32, 32, 4), dtype=np.uint8)
    ds = from_tensors(rgba, np.arange(5) % 2)
    assert ds.images.shape == (5, 3, 32, 32)
    np.testing.assert_array_equal(ds.images, rgba[..., :3].transpose(0, 3, 1, 2))


def test_rgba_channels_first_drops_alpha():
    rgba = np.random.default_rng(2).random((5, 4, 16, 16)).astype(np.float32)
    ds = from_tensors(torch.from_numpy(rgba), np.arange(5) % 2)
    assert ds.images.shape == (5, 3, 16, 16)
    np.testing.assert_allclose(ds.images.astype(float), rgba[:, :3] * 255, atol=0.51)


@pytest.mark.parametrize("shape", [(5, 4, 8, 3), (5, 3, 8, 4), (5, 8, 6, 1), (5, 1, 6, 8)])
def test_layout_read_with_the_larger_image_sides(shape):
    """When dimension 1 and the last could both be channels, the reading whose smaller side is
    larger wins: a 4x8 RGB image beats an 8x3 RGBA one."""
    x = np.random.default_rng(3).integers(0, 256, size=shape, dtype=np.uint8)
    out = to_uint8_nchw(x)
    channels_last = min(shape[1:3]) > min(shape[2:4])
    if channels_last:
        expected = x.transpose(0, 3, 1, 2)
    else:
        expected = x
    c = expected.shape[1]
    expected = np.repeat(expected, 3, axis=1) if c == 1 else expected[:, :3]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape", [(5, 32, 32, 5), (5, 2, 32, 32), (5, 32, 32, 2), (5, 6, 7, 8)])
def test_wrong_layout_error_names_shape_and_layouts(shape):
    with pytest.raises(ValueError) as e:
        from_tensors(np.zeros(shape, np.uint8), np.arange(5) % 2)
    msg = str(e.value)
    assert str(shape) in msg
    assert "[N, C, H, W]" in msg and "[N, H, W, C]" in msg and "1, 3 or 4" in msg
    assert "32 channels" not in msg


def test_torchvision_items_rgba_hwc_and_grey_2d():
    rgba = np.random.default_rng(4).integers(0, 256, size=(8, 8, 4), dtype=np.uint8)
    grey = np.random.default_rng(5).integers(0, 256, size=(8, 8), dtype=np.uint8)
    ds = from_torchvision(TinyDataset([(rgba, 0), (grey, 1)]))
    np.testing.assert_array_equal(ds.images[0], rgba[..., :3].transpose(2, 0, 1))
    for c in range(3):
        np.testing.assert_array_equal(ds.images[1, c], grey)


# ====================================================================== 6. decompression bombs
def test_folder_decompression_bomb_error_names_the_file(class_tree, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # the 8x6 = 48 px images stay under it
    _png(class_tree / "banana" / "huge.png", (0, 0, 0), size=(20, 20))  # 400 px > 2 * 50: PIL refuses
    with pytest.raises(ValueError, match=r"banana.huge\.png") as e:
        from_folder(class_tree, size=6)
    assert "MAX_IMAGE_PIXELS" in str(e.value)


def test_folder_decompression_bomb_warning_names_the_file(class_tree, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    _png(class_tree / "banana" / "big.png", (0, 0, 0), size=(9, 9))  # 81 px: PIL warns
    with pytest.warns(Image.DecompressionBombWarning, match=r"banana.big\.png"):
        ds = from_folder(class_tree, size=6)
    assert len(ds) == 13


def test_folder_decompression_bomb_in_a_mask_names_the_mask(tmp_path, monkeypatch):
    for cname in ("a", "b"):
        _png(tmp_path / "img" / cname / "x.png", (1, 2, 3), size=(6, 6))
        _png(tmp_path / "mask" / cname / "x.png", (0, 0, 0), size=(6, 6))
    _png(tmp_path / "mask" / "b" / "x.png", (0, 0, 0), size=(20, 20))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    with pytest.raises(ValueError, match=r"mask.b.x\.png"):
        from_folder(tmp_path / "img", masks={"object": tmp_path / "mask"})


# ====================================================================== same kind of problems
def test_bfloat16_and_float16_tensors_accepted():
    x = torch.rand(6, 3, 5, 5)
    for dtype in (torch.bfloat16, torch.float16):
        ds = from_tensors(x.to(dtype), torch.arange(6) % 2)
        expected = x.to(dtype).float().numpy() * 255
        np.testing.assert_allclose(ds.images.astype(float), expected, atol=0.51)


def test_float_images_in_0_255_get_a_hint():
    x = _nchw().astype(np.float32)
    with pytest.raises(ValueError, match=r"\[0, 1\].*divide by 255"):
        from_tensors(x, _labels())


def test_nan_image_error_names_the_image():
    x = np.random.default_rng(4).random((10, 6, 7, 3))  # channels last
    x[6, 2, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*image 6"):
        from_tensors(x, _labels())


def test_ragged_image_list_gets_an_error_not_a_numpy_traceback():
    imgs = [np.zeros((3, 6, 6), np.uint8), np.zeros((3, 8, 8), np.uint8)]
    with pytest.raises(ValueError, match=r"different sizes.*from_torchvision"):
        from_tensors(imgs, [0, 1])


@pytest.mark.parametrize(
    "classes, err",
    [("ab", TypeError), ({"a": 0, "b": 1}, TypeError), ([b"a", b"b"], TypeError),
     (["a", None], TypeError), (["a", 1.5], TypeError), (["a", ""], ValueError), (["a", "  "], ValueError)],
)
def test_class_names_must_be_strings(classes, err):
    with pytest.raises(err, match=r"classes"):
        from_tensors(_nchw(4), np.arange(4) % 2, classes=classes)


def test_class_names_numpy_strings_and_integers_accepted():
    ds = from_tensors(_nchw(4), np.arange(4) % 2, classes=np.array(["cat", "dog"]))
    assert ds.classes == ["cat", "dog"] and all(type(c) is str for c in ds.classes)
    ds = from_tensors(_nchw(4), np.arange(4) % 2, classes=[0, np.int64(1)])
    assert ds.classes == ["0", "1"]


def test_torchvision_classes_attribute_checked_too():
    with pytest.raises(TypeError, match=r"classes\[1\]"):
        from_torchvision(TinyDataset([(_img(), 0), (_img(), 1)], classes=["a", None]))


def test_folder_mixed_sizes_error_names_the_odd_files(tmp_path):
    root = tmp_path / "mixed"
    for k in range(3):
        _png(root / "a" / f"{k}.png", (255, 0, 0), size=(8, 6))
        _png(root / "b" / f"{k}.png", (0, 0, 255), size=(8, 6))
    _png(root / "b" / "odd.png", (0, 0, 255), size=(12, 10))
    with pytest.raises(ValueError) as e:
        from_folder(root)
    msg = str(e.value)
    assert str(root / "b" / "odd.png") in msg and "10x12" in msg
    assert "6x8" in msg  # the size most images share
    assert "0.png" not in msg  # the images of the common size are not listed
    assert "size=" in msg


def test_torchvision_mixed_sizes_error_names_the_item():
    items = [(_img(), 0), (_img(), 1), (Image.new("RGB", (9, 7)), 1)]
    with pytest.raises(ValueError, match=r"dataset item 2 \(7x9\)"):
        from_torchvision(TinyDataset(items))


def test_folder_16_bit_grey_png_scaled_not_clipped(tmp_path):
    root = tmp_path / "deep"
    levels = {"a": 128 * 257, "b": 40 * 257}  # 16-bit values of 8-bit grey 128 and 40
    for cname, v in levels.items():
        (root / cname).mkdir(parents=True)
        Image.fromarray(np.full((6, 6), v, np.uint16)).save(root / cname / "x.png")
    ds = from_folder(root)
    assert Image.open(root / "a" / "x.png").mode.startswith("I;16")
    assert (ds.images[0] == 128).all() and (ds.images[1] == 40).all()  # PIL's convert gives 255


@pytest.mark.parametrize("size", [0, -3, (8, 0), (8,), "8", 2.5, True])
def test_bad_size_refused_before_reading(class_tree, size):
    with pytest.raises((ValueError, TypeError), match=r"size"):
        from_folder(class_tree, size=size)
    with pytest.raises((ValueError, TypeError), match=r"size"):
        from_torchvision(TinyDataset([(_img(), 0), (_img(), 1)]), size=size)


def test_nan_in_a_float_mask_refused_not_read_as_inside():
    m = np.zeros((10, 6, 7), np.float32)
    m[3, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"mask 'object' contains NaN.*image 3"):
        from_tensors(_nchw(), _labels(), masks={"object": m})
    m[3, 1, 1] = 1.0
    assert from_tensors(_nchw(), _labels(), masks={"object": m}).masks["object"].sum() == 1


def test_torchvision_32_bit_pil_item_names_the_item():
    items = [(_img(), 0), (Image.fromarray(np.zeros((6, 6), np.float32)), 1)]
    assert items[1][0].mode == "F"
    with pytest.raises(ValueError, match=r"dataset item 1: 32-bit image mode 'F'"):
        from_torchvision(TinyDataset(items))
