"""Classical augmentations on hand-made images: what moves, what stays."""

from __future__ import annotations

import numpy as np
import pytest

from dashwidgets.augment import background_swap, color_transfer, fill_object, targeted, top_regions


def _square(color, bg, n=2, size=12):
    img = np.zeros((n, 3, size, size), np.uint8)
    img[:] = np.asarray(bg, np.uint8)[None, :, None, None]
    img[:, :, 3:9, 3:9] = np.asarray(color, np.uint8)[None, :, None, None]
    fg = np.zeros((n, size, size), bool)
    fg[:, 3:9, 3:9] = True
    return img, fg


def test_color_transfer_moves_the_foreground_to_the_styles_colour_and_keeps_the_rest(rng):
    src, fg = _square((200, 30, 30), (0, 0, 0))
    style, sfg = _square((20, 40, 220), (0, 0, 0), n=3)
    out, pick = color_transfer(src, fg, style, sfg, rng)
    assert out.shape == src.shape and out.dtype == np.uint8 and pick.shape == (2,)
    np.testing.assert_array_equal(out[:, :, fg[0]].mean(axis=-1), [[20, 40, 220]] * 2)
    np.testing.assert_array_equal(out[:, :, ~fg[0]], src[:, :, ~fg[0]])  # background untouched
    half, _ = color_transfer(src, fg, style, sfg, np.random.default_rng(0), strength=0.5)
    assert abs(int(half[0, 0, 5, 5]) - 110) <= 1  # halfway between 200 and 20


def test_background_swap_keeps_the_object_and_takes_the_styles_background(rng):
    src, fg = _square((255, 255, 255), (0, 0, 0), n=1)
    style, sfg = _square((9, 9, 9), (0, 128, 0), n=1)
    out, _ = background_swap(src, fg, style, sfg, rng)
    np.testing.assert_array_equal(out[0][:, fg[0]], src[0][:, fg[0]])
    np.testing.assert_array_equal(out[0][:, ~fg[0]].T, np.tile([0, 128, 0], ((~fg[0]).sum(), 1)))
    # the style's own object (grey 9) left no trace: its hole was filled from the background
    assert not (out == 9).all(axis=1).any()


def test_fill_object_uses_shifted_background_pixels():
    img = np.zeros((3, 16, 16), np.float32)
    img[:, :, ::2] = 1.0  # vertical stripes: a texture with period 2
    hole = np.zeros((16, 16), bool)
    hole[5:10, 5:10] = True
    broken = img.copy()
    broken[:, hole] = 0.5
    filled = fill_object(broken, hole)
    assert set(np.unique(filled[:, hole])) <= {0.0, 1.0}


def test_targeted_mask_and_noise_touch_only_the_regions(rng):
    src = np.full((4, 3, 20, 20), 100, np.uint8)
    rel = np.random.default_rng(1).random((4, 20, 20))
    regions = top_regions(rel, 0.7)  # the paper's quantile: pixels above the 0.7 quantile, the top 30 %
    assert regions.mean() == pytest.approx(0.3, abs=0.01)
    for r, m in zip(np.abs(rel), regions, strict=True):  # each image's own top pixels, not any 30 %
        assert r[m].min() >= r[~m].max()
    grey = targeted(src, regions, "mask", rng)
    assert (grey.transpose(1, 0, 2, 3)[:, regions] == 128).all()
    assert (grey.transpose(1, 0, 2, 3)[:, ~regions] == 100).all()
    noisy = targeted(src, regions, "noise", np.random.default_rng(2), sigma=0.5).astype(float) / 255
    inside = noisy.transpose(1, 0, 2, 3)[:, regions]
    assert 0.3 < inside.std() < 0.5  # sigma 0.5, clipped to [0, 1]
    assert (noisy.transpose(1, 0, 2, 3)[:, ~regions] == 100 / 255).all()
    with pytest.raises(ValueError, match="quantile"):
        top_regions(rel, 1.5)
    with pytest.raises(ValueError, match="mode must be"):
        targeted(src, regions, "blur", rng)
