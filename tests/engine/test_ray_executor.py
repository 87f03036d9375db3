"""The Ray executor (issue 17 §4): evaluate's batches on a local 2-worker Ray instance give the
local path's results bitwise on CPU, for in-memory datasets and memory-mapped image stores."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import dashwidgets as dw
from dashwidgets.datasets import to_store
from dashwidgets.engine.attribution import AttributionTask
from dashwidgets.engine.inference import EvalTask
from dashwidgets.explain.attribution import attribute
from dashwidgets.models.inference import run_inference
from dashwidgets.runtime.executor import LocalExecutor, RayExecutor, resolve_executor

FIELDS = ("indices", "labels", "pred", "probs", "loss", "correct", "embedding")


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def tiny():
    """300 images, a 1-epoch version, batches of 64 (so 5 batches, the last one short)."""
    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=200, n_val=50, n_test=50)
    eng = dw.Engine(ds, device="cpu", eval_batch_size=64)
    v = eng.train(epochs=1, progress=False)
    return eng, v


def _fresh_evaluate(eng, v, split=None):
    eng._inference.cache.drop(v.id)  # evaluate is cached per version: recompute
    return eng.evaluate(v, split)


def _assert_same(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape, f
        assert np.array_equal(x, y), f"{f} differs"


def test_evaluate_through_ray_equals_local_bitwise(ray_local, tiny):
    eng, v = tiny
    local = _fresh_evaluate(eng, v)
    assert len(local.indices) == 300 and local.embedding.shape[1] > 0
    with eng.executing(RayExecutor(num_workers=2)) as ex:
        assert isinstance(eng.executor, RayExecutor) and ex is eng.executor
        remote = _fresh_evaluate(eng, v)
    assert isinstance(eng.executor, LocalExecutor)  # the block's executor is gone after it
    _assert_same(local, remote)


def test_gradcam_through_ray_equals_local_bitwise(ray_local, tiny):
    eng, v = tiny
    idx = np.arange(10, 110)
    want = {m: eng.attribute(v, idx, m, target="label", numpy=True, batch_size=32) for m in ("gradcam",)}
    eng._attribution.cache.drop(v.id)
    with eng.executing(RayExecutor(num_workers=2)):
        got = {m: eng.attribute(v, idx, m, target="label", numpy=True, batch_size=32) for m in ("gradcam",)}
    for m in want:
        assert got[m].shape == (100, 32, 32) and got[m].dtype == want[m].dtype
        assert np.abs(want[m]).sum() > 0, m  # maps, not zeros
        assert np.array_equal(got[m], want[m]), f"{m} differs"


def test_a_memory_mapped_store_ships_its_path_not_its_images(ray_local, tmp_path):
    ds = to_store(dw.datasets.load("patch-digits", bias=0.99, seed=1, n_train=120, n_val=30, n_test=30),
                  tmp_path / "store", batch=64)
    assert ds.mapped
    eng = dw.Engine(ds, device="cpu", eval_batch_size=48, executor="ray")
    with eng.executing("local"):
        v = eng.train(epochs=1, progress=False)
        local = _fresh_evaluate(eng, v, "val")
    task = EvalTask(eng._ctx, eng._store.model(v.id), ds.indices("val"), eng.embedding_layer, "cpu")
    assert task.images is None and task.mmap.endswith("images.npy") and task.mmap.startswith(str(tmp_path.resolve()))
    assert isinstance(eng.executor, RayExecutor)
    _assert_same(local, _fresh_evaluate(eng, v, "val"))


def test_the_batch_task_run_here_equals_run_inference(tiny):
    """The decomposition itself (no Ray): the task's batches, gathered, are the local pass."""
    eng, v = tiny
    ctx, model = eng._ctx, eng._store.model(v.id)
    idx = np.random.default_rng(0).permutation(len(eng.dataset))[:150]  # unsorted indices
    want = run_inference(model, ctx.inputs_t, ctx.targets, idx, ctx.device, ctx.eval_batch_size, eng.embedding_layer)
    task = EvalTask(ctx, model, idx, eng.embedding_layer, "cpu")
    assert task.n_batches == 3
    got = LocalExecutor().map_batches(task)
    assert sorted(got) == sorted(want)
    for k in want:
        assert np.array_equal(got[k], want[k]), k


def test_the_attribution_task_run_here_equals_attribute(tiny):
    eng, v = tiny
    ctx, model = eng._ctx, eng._store.model(v.id)
    idx = np.array([5, 250, 3, 99, 7, 180, 42], np.int64)
    targets = eng.dataset.labels[idx]
    want = attribute(model, ctx.inputs(idx), targets, "gradcam", eng.embedding_layer, 3).cpu().numpy()
    task = AttributionTask(ctx, model, idx, targets, "gradcam", eng.embedding_layer, 3, {}, "cpu")
    got = LocalExecutor().map_batches(task)["maps"]
    assert task.n_batches == 3 and np.array_equal(got, want)


def test_executor_arguments_are_checked():
    assert isinstance(resolve_executor("local"), LocalExecutor)
    with pytest.raises(ValueError, match="executor must be 'local', 'ray'"):
        resolve_executor("dask")
    pytest.importorskip("ray")
    with pytest.raises(ValueError, match="num_workers"):
        RayExecutor(num_workers=0)


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'dashwidgets\[ray\]'"):
        RayExecutor()
    with pytest.raises(ImportError, match="dashwidgets"):
        resolve_executor("ray")
