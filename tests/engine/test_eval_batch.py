"""eval_batch_size="auto" (the default): a byte budget per batch of float32 inputs, at most 512."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dashwidgets as dw
from dashwidgets.engine.context import resolve_eval_batch_size

CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # a device object needs no GPU


@pytest.mark.parametrize(
    ("size", "cpu", "cuda"),
    [(16, 512, 512), (32, 512, 512), (64, 128, 512), (128, 32, 512), (224, 10, 445), (1024, 1, 21)],
)
def test_auto_batch_size_is_a_byte_budget(size, cpu, cuda):
    assert resolve_eval_batch_size("auto", (size, size), CPU) == cpu
    assert resolve_eval_batch_size("auto", (size, size), CUDA) == cuda
    # input bytes per batch stay within the budget whenever more than one image fits
    if cpu > 1:
        assert cpu * 3 * 4 * size * size <= 6 << 20


def test_explicit_batch_size_is_kept_and_bad_values_are_named():
    assert resolve_eval_batch_size(512, (224, 224), CPU) == 512
    assert resolve_eval_batch_size(np.int64(7), (32, 32), CUDA) == 7
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        resolve_eval_batch_size("big", (32, 32), CPU)
    with pytest.raises(ValueError, match="eval_batch_size"):
        resolve_eval_batch_size(0, (32, 32), CPU)
    with pytest.raises(TypeError, match="eval_batch_size"):
        resolve_eval_batch_size(2.5, (32, 32), CPU)


def test_engine_resolves_auto_and_32px_keeps_512():
    ds32 = dw.datasets.load("colored-digits", seed=0, n_train=40, n_val=10, n_test=10)
    assert ds32.image_size == (32, 32)
    # the embedded 32-px benchmarks keep the old batch of 512, so their results stay bit-identical
    assert dw.Engine(ds32, device="cpu").eval_batch_size == 512
    assert dw.Engine(ds32, device="cpu", eval_batch_size=48).eval_batch_size == 48


def test_auto_at_64px_batches_by_bytes_with_the_same_results(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHWIDGETS_CACHE_MB", "0")  # `big` must compute, not read auto's cached results
    ds = dw.datasets.load("colored-digits", seed=0, size=64, n_train=150, n_val=30, n_test=20)
    auto = dw.Engine(ds, device="cpu", workspace=tmp_path / "ws")
    assert auto.eval_batch_size == 128  # 200 images: batches of 128 and 72
    v = auto.train(epochs=1, progress=False)
    big = dw.Engine.open(tmp_path / "ws", device="cpu", eval_batch_size=512)  # one batch, the old default
    assert big.eval_batch_size == 512
    a, b = auto.evaluate(v), big.evaluate(v.id)
    assert big.cache_info()["disk"]["files"] == 0
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.embedding, b.embedding, rtol=1e-4, atol=1e-5)
