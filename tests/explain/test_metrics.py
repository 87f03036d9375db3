"""RMA and RRA against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dashwidgets as dw


def test_rma_is_the_share_of_relevance_mass_inside_the_mask():
    a = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    m = np.array([[[True, False], [False, True]]])
    assert dw.metrics.rma(a, m)[0] == pytest.approx((1 + 4) / 10)
    # absolute relevance by default; signed on request
    a2 = np.array([[[-1.0, 2.0], [3.0, -4.0]]])
    assert dw.metrics.rma(a2, m)[0] == pytest.approx(5 / 10)
    a3 = np.array([[[-1.0, 2.0], [3.0, 4.0]]])
    assert dw.metrics.rma(a3, m, absolute=False)[0] == pytest.approx((-1 + 4) / 8)


def test_rra_counts_the_top_k_pixels_inside_the_mask():
    a = np.array([[[0.9, 0.1, 0.8], [0.2, 0.7, 0.0], [0.3, 0.0, 0.0]]])
    m = np.zeros((1, 3, 3), bool)
    m[0, 0, 0] = m[0, 1, 1] = m[0, 2, 2] = True  # K = 3
    # top-3 pixels: 0.9 (in), 0.8 (out), 0.7 (in) -> 2/3
    assert dw.metrics.rra(a, m)[0] == pytest.approx(2 / 3)


def test_batched_equals_per_image_and_torch_inputs_work(rng):
    a = rng.normal(size=(5, 8, 8))
    m = rng.random((5, 8, 8)) > 0.7
    batched = dw.metrics.rma(torch.from_numpy(a), torch.from_numpy(m))
    single = [dw.metrics.rma(a[i], m[i])[0] for i in range(5)]
    np.testing.assert_allclose(batched, single)
    np.testing.assert_allclose(dw.metrics.rra(a, m), [dw.metrics.rra(a[i], m[i])[0] for i in range(5)])


def test_perfect_and_empty_cases():
    m = np.zeros((2, 4, 4), bool)
    m[:, :2, :2] = True
    a = m.astype(float)
    np.testing.assert_allclose(dw.metrics.rma(a, m), [1.0, 1.0])
    np.testing.assert_allclose(dw.metrics.rra(a, m), [1.0, 1.0])
    assert np.isnan(dw.metrics.rma(np.zeros((1, 4, 4)), m[:1]))[0]
    assert np.isnan(dw.metrics.rra(a[:1], np.zeros((1, 4, 4), bool)))[0]


def test_shape_and_value_errors():
    with pytest.raises(ValueError, match="must match"):
        dw.metrics.rma(np.zeros((2, 4, 4)), np.zeros((2, 4, 5), bool))
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        dw.metrics.rra(np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 4, 4), bool))
    with pytest.raises(ValueError, match="NaN"):
        dw.metrics.rma(np.full((1, 2, 2), np.nan), np.ones((1, 2, 2), bool))
