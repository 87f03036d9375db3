"""Region classifier pieces: the patch grid, batched patch extraction, Algorithm 1 against the
paper's loop, the confidence scores, and ECE against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dashwidgets as dw
from dashwidgets.explain.regions import confidence, pixel_maps
from dashwidgets.models.region import RegionNet, all_patches, crop, default_geometry, grid_offsets


def test_grid_spans_the_image_with_the_issue_stride():
    off = grid_offsets(32, 8, 81)
    assert off.tolist() == [0, 3, 6, 9, 12, 15, 18, 21, 24]  # s = (32 - 8) / (9 - 1) = 3
    assert grid_offsets(128, 32, 45 * 45)[-1] == 96  # the last patch ends at the border
    assert default_geometry(32) == (8, 81) and default_geometry(128) == (32, 33 * 33)


@pytest.mark.parametrize(
    "args, match",
    [
        ((32, 40, 81), "larger than the image"),
        ((32, 8, 80), "square number"),
        ((32, 8, 1), "square number of at least 4"),
        ((32, 30, 16), "only 3 distinct offsets"),
        ((32, 0, 16), "positive number of pixels"),
    ],
)
def test_grid_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        grid_offsets(*args)


def test_all_patches_and_crop_agree_with_slicing():
    x = torch.arange(2 * 3 * 12 * 12, dtype=torch.float32).view(2, 3, 12, 12)
    off = grid_offsets(12, 5, 9)  # [0, 4, 7] (3.5 rounds to 4)
    patches = all_patches(x, off, 5)
    assert patches.shape == (2 * 9, 3, 5, 5)
    for b in range(2):
        for i in range(9):
            top, left = off[i // 3], off[i % 3]  # patch i: x = (i mod √p)·s, y = ⌊i/√p⌋·s
            assert torch.equal(patches[b * 9 + i], x[b, :, top : top + 5, left : left + 5])
    got = crop(x, torch.tensor([2, 7]), torch.tensor([4, 0]), 5)
    assert torch.equal(got[0], x[0, :, 2:7, 4:9]) and torch.equal(got[1], x[1, :, 7:12, 0:5])


def test_pixel_maps_follow_algorithm_1():
    rng = np.random.default_rng(0)
    off = grid_offsets(20, 6, 16)
    regions = rng.random((3, 4, 4)).astype(np.float32)
    got = pixel_maps(regions, off, 6, (20, 20), normalize=False)
    for n in range(3):  # the paper's loop, literally
        m, c = np.zeros((20, 20)), np.zeros((20, 20))
        for i in range(16):
            x, y = int(off[i % 4]), int(off[i // 4])
            m[y : y + 6, x : x + 6] += regions[n, i // 4, i % 4]
            c[y : y + 6, x : x + 6] += 1
        np.testing.assert_allclose(got[n], m / c, rtol=1e-5)
    norm = pixel_maps(regions, off, 6, (20, 20))
    assert norm.min() == 0 and norm.max() == pytest.approx(1) and norm.dtype == np.float32


def test_confidences_are_the_papers_three_in_zero_one():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    s = torch.softmax(logits, 1)
    assert confidence(logits, "top").tolist() == pytest.approx(s.amax(1).tolist())
    assert confidence(logits, "margin")[0] == pytest.approx(float(s[0, 0] - s[0, 1]))
    h = -(s[0] * s[0].log()).sum()
    assert confidence(logits, "entropy")[0] == pytest.approx(float(1 - h / math.log(3)))
    assert confidence(logits, "entropy")[1] == pytest.approx(0, abs=1e-6)  # uniform: no information
    with pytest.raises(ValueError, match="unknown confidence"):
        confidence(logits, "max")


def test_ece_is_equation_5():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.55, 0.45]])
    labels = np.array([0, 1, 1, 0])
    # 10 bins: (0.5, 0.6] holds 0.6 (wrong) and 0.55 (right); (0.7, 0.8] 0.8 right; (0.8, 0.9] 0.9 right
    expected = 0.5 * abs(0.575 - 0.5) + 0.25 * abs(0.8 - 1) + 0.25 * abs(0.9 - 1)
    assert dw.metrics.ece(probs, labels, bins=10) == pytest.approx(expected)
    r = dw.metrics.reliability(probs, labels, bins=10)
    assert r["count"].sum() == 4 and r.loc[5, "count"] == 2 and r.loc[5, "accuracy"] == 0.5
    assert dw.metrics.ece(np.eye(3), np.arange(3), bins=100) == 0  # confident and right
    for bad, match in [((probs, labels[:2]), "labels must be"), ((probs[0], labels), "probs must be"),
                       ((probs * 3, labels), "probabilities"), ((probs, labels + 5), "class indices")]:
        with pytest.raises(ValueError, match=match):
            dw.metrics.ece(*bad)
    with pytest.raises(ValueError, match="bins"):
        dw.metrics.ece(probs, labels, bins=0)


def test_region_net_reads_the_position():
    net = RegionNet(8, 16, 3).eval()
    x = torch.zeros(2, 3, 8, 8)
    with torch.no_grad():
        a, b = net(x, torch.tensor([0, 15]))
    assert a.shape == (3,) and not torch.allclose(a, b)  # same pixels, other position, other logits
