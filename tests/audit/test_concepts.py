"""Concept patches: mask geometry and sampling, the masked input, and one batched pass checked
against a plain per-patch forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from dashwidgets.audit.concepts import (
    check_neurons,
    concept_patches,
    masked,
    patch_geometry,
    sample_boxes,
    top_activating,
)
from dashwidgets.models.activations import activation_modules


def test_patch_geometry_follows_the_paper_at_224_and_scales():
    assert patch_geometry(224, 224) == (30, 5)
    assert patch_geometry(32, 32) == (4, 1)
    assert patch_geometry(448, 300) == (40, 7)  # the shorter side sets the scale
    assert patch_geometry(2, 2) == (2, 1)  # never larger than the image


@settings(max_examples=40, deadline=None)
@given(h=st.integers(4, 80), w=st.integers(4, 80), n=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_sampled_boxes_are_inside_distinct_and_apart(h, w, n, seed):
    side, gap = patch_geometry(h, w)
    boxes = sample_boxes(h, w, n, side, gap, np.random.default_rng(seed))
    assert 1 <= len(boxes) <= n
    y0, x0, y1, x1 = boxes.T
    assert (y0 >= 0).all() and (x0 >= 0).all() and (y1 <= h).all() and (x1 <= w).all()
    assert ((y1 - y0) == side).all() and ((x1 - x0) == side).all()
    d = np.abs(boxes[:, None, :2] - boxes[None, :, :2]).max(-1)
    np.fill_diagonal(d, gap)
    assert (d >= gap).all()
    again = sample_boxes(h, w, n, side, gap, np.random.default_rng(seed))
    assert np.array_equal(boxes, again)


def test_224px_images_get_all_32_masks():
    side, gap = patch_geometry(224, 224)
    for seed in range(5):
        assert len(sample_boxes(224, 224, 32, side, gap, np.random.default_rng(seed))) == 32


def test_masked_keeps_only_the_box():
    x = torch.ones(2, 3, 6, 5)
    out = masked(x, torch.tensor([[1, 2, 3, 4], [0, 0, 6, 5]]))
    assert out[0].sum() == 3 * 2 * 2 and out[0, :, 1:3, 2:4].eq(1).all()
    assert out[1].eq(1).all()


def test_check_neurons_names_the_problem():
    ch = {"conv": 4}
    assert check_neurons([("conv", 1), ("conv", 1), ("conv", 0)], ch) == [("conv", 1), ("conv", 0)]
    assert check_neurons(("conv", 2), ch) == [("conv", 2)]
    with pytest.raises(ValueError, match="'fc' is not a conv layer"):
        check_neurons([("fc", 0)], ch)
    with pytest.raises(ValueError, match="out of range for layer 'conv', which has 4 channels"):
        check_neurons([("conv", 4)], ch)
    with pytest.raises(ValueError, match="no neurons"):
        check_neurons([], ch)
    with pytest.raises(ValueError, match="pair"):
        check_neurons(["conv"], ch)


def test_top_activating_is_descending_and_maps_to_dataset_indices():
    idx, act = top_activating(np.array([0.1, 0.9, 0.5, 0.9]), np.array([10, 20, 30, 40]), 3)
    assert idx.tolist() == [20, 40, 30] and act.tolist() == pytest.approx([0.9, 0.9, 0.5])


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Conv2d(3, 5, 3, padding=1)
        self.b = nn.Conv2d(5, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        x = torch.relu(self.b(torch.relu(self.a(x))))
        return self.head(x.amax((2, 3)))


def test_batched_pass_matches_a_per_patch_forward():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    model = Tiny().eval()

    def inputs(idx):
        return torch.from_numpy(images[idx.numpy()]).float() / 255 - 0.5

    neurons = [("a", 1), ("b", 3)]
    tops = {("a", 1): (np.array([4, 7, 2]), np.ones(3, np.float32)), ("b", 3): (np.array([7, 0]), np.ones(2))}
    out = concept_patches(model, inputs, images, neurons, tops, torch.device("cpu"), n_patches=6, top=4, seed=3)
    conv = {"a": model.a, "b": model.b}
    for (layer, ch), cc in out.items():
        assert cc.patches.shape == (4, 3, 4, 4) and cc.patches.dtype == np.uint8
        assert set(cc.sources) <= set(tops[(layer, ch)][0].tolist())
        assert (np.diff(cc.activations) <= 0).all()
        # every candidate, one at a time, through a plain forward: the kept ones are the best
        seen = []
        for i in tops[(layer, ch)][0]:
            boxes = sample_boxes(32, 32, 6, 4, 1, np.random.default_rng([3, int(i)]))
            for box in boxes:
                got = {}
                h = activation_modules(model, [layer])[layer].register_forward_hook(
                    lambda m, a, o, got=got: got.setdefault("o", o)
                )
                with torch.no_grad():
                    model(masked(inputs(torch.tensor([i])), torch.from_numpy(box)[None]))
                h.remove()
                seen.append(float(got["o"][0, ch].amax()))
        assert conv[layer] is activation_modules(model, [layer])[layer]
        np.testing.assert_allclose(cc.activations, sorted(seen, reverse=True)[:4], rtol=1e-5, atol=1e-6)
        for p, s, (y0, x0, y1, x1) in zip(cc.patches, cc.sources, cc.boxes, strict=True):
            assert np.array_equal(p, images[s, :, y0:y1, x0:x1])
