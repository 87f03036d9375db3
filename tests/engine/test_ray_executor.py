"""The Ray executor (issue 17 §4): evaluate's, attribute's, neuron scores' and predict's batches
on a local Ray instance with 2 workers give the local path's results bitwise on CPU, for
in-memory datasets and memory-mapped image stores; one executor keeps its actors across calls
(a new version runs on the same actors) and ``close`` kills them. One Ray instance and one
executor serve the module (actor start-up is the slow part on a small machine)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

import dashwidgets as dw
from dashwidgets.datasets import to_store
from dashwidgets.engine.attribution import AttributionTask
from dashwidgets.engine.inference import EvalTask
from dashwidgets.engine.viscuit import MaximaTask
from dashwidgets.explain.attribution import attribute
from dashwidgets.models.activations import channel_maxima, check_conv_layers
from dashwidgets.models.inference import run_inference
from dashwidgets.runtime.executor import LocalExecutor, RayExecutor, resolve_executor

FIELDS = ("indices", "labels", "pred", "probs", "loss", "correct", "embedding")


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    started = not ray.is_initialized()
    if started:
        # a loaded machine can take over Ray's 30 s to start the node's agent (the raylet then
        # aborts): a second try starts from a warm page cache
        os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
        for attempt in (1, 2):
            try:  # 6 logical CPUs: the module's pool (2 actors) and another executor's beside it
                ray.init(num_cpus=6, include_dashboard=False, log_to_driver=False, configure_logging=False)
                break
            except Exception:
                ray.shutdown()
                if attempt == 2:
                    raise
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def pool(ray_local):
    """The module's executor: 2 actors, started by the first test that uses it, closed at the end."""
    with RayExecutor(num_workers=2) as ex:
        yield ex
    assert ex.workers == 0


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


def test_evaluate_through_ray_equals_local_bitwise(pool, tiny):
    eng, v = tiny
    local = _fresh_evaluate(eng, v)
    assert len(local.indices) == 300 and local.embedding.shape[1] > 0
    with eng.executing(pool) as ex:
        assert ex is pool and eng.executor is pool
        remote = _fresh_evaluate(eng, v)
    assert isinstance(eng.executor, LocalExecutor)  # the block's executor is gone after it
    assert pool.workers == 2  # ... but the executor passed in is not closed: it is the caller's
    _assert_same(local, remote)


def test_a_new_version_runs_on_the_same_actors(pool, tiny):
    """Actor reuse: a second version's evaluate runs on the pool's actors (no new ones) and
    gives that version's results, not the previous task's."""
    eng, v = tiny
    with eng.executing("local"):
        v2 = eng.train(epochs=3, lr=1e-2, progress=False)  # other settings: training is deterministic
        want = _fresh_evaluate(eng, v2, "test")
    with eng.executing(pool):
        _fresh_evaluate(eng, v, "test")
        actors = list(pool._actors)
        got = _fresh_evaluate(eng, v2, "test")
    assert len(actors) == 2 and all(a is b for a, b in zip(actors, pool._actors, strict=True))
    _assert_same(want, got)
    assert not np.array_equal(got.probs, _fresh_evaluate(eng, v, "test").probs)  # v2 is another model


def test_neuron_scores_and_predict_through_ray_equal_local_bitwise(pool, tiny):
    eng, v = tiny
    groups = {"u": np.arange(0, 40), "w": np.arange(210, 290)}  # train and val/test images
    images = eng.dataset.images[[3, 220, 7, 299, 150]][:, :, ::-1].copy()  # not the dataset's rows
    want_scores, want_pred = eng.neuron_scores(v, groups), eng.predict(v, images)
    want_maxima = {s: eng._viscuit.maxima(v, s) for s in ("train", "val", "test")}
    eng._viscuit.maxima_cache.drop(v.id)
    with eng.executing(pool):
        got_scores, got_pred = eng.neuron_scores(v, groups), eng.predict(v, images)
        got_maxima = {s: eng._viscuit.maxima(v, s) for s in ("train", "val", "test")}
    for s in want_maxima:
        assert list(got_maxima[s]) == list(want_maxima[s])  # every conv layer, in order
        for layer, m in want_maxima[s].items():
            assert m.dtype == got_maxima[s][layer].dtype and np.array_equal(m, got_maxima[s][layer]), (s, layer)
    assert want_maxima["train"][next(iter(want_maxima["train"]))].shape[0] == 200
    pd.testing.assert_frame_equal(got_scores, want_scores, check_exact=True)
    assert sorted(got_pred) == ["embedding", "pred", "probs"]
    for k in want_pred:
        assert np.array_equal(got_pred[k], want_pred[k]), k


def test_the_maxima_task_run_here_equals_channel_maxima(tiny):
    eng, v = tiny
    ctx, model = eng._ctx, eng._store.model(v.id)
    idx = np.array([250, 3, 99, 7, 180, 42, 11], np.int64)
    layers = check_conv_layers(model, None)
    want = channel_maxima(model, ctx.inputs_t, idx, ctx.device, layers, 3)
    task = MaximaTask(ctx, model, idx, layers, "cpu")
    task.batch_size, task.n_batches = 3, 3
    got = LocalExecutor().map_batches(task)
    assert sorted(got) == sorted(f"maxima/{name}" for name in layers)
    for name in layers:
        assert np.array_equal(got[f"maxima/{name}"], want[name]), name


def test_ray_data_pool_equals_local_bitwise(ray_local, tiny):
    """``pool="data"``: Ray Data map_batches with a new actor pool per call, same results."""
    eng, v = tiny
    local = _fresh_evaluate(eng, v, "val")
    with eng.executing(RayExecutor(num_workers=2, pool="data")):
        remote = _fresh_evaluate(eng, v, "val")
    _assert_same(local, remote)


def test_gradcam_through_ray_equals_local_bitwise(pool, tiny):
    eng, v = tiny
    idx = np.arange(10, 110)
    want = {m: eng.attribute(v, idx, m, target="label", numpy=True, batch_size=32) for m in ("gradcam",)}
    eng._attribution.cache.drop(v.id)
    with eng.executing(pool):
        got = {m: eng.attribute(v, idx, m, target="label", numpy=True, batch_size=32) for m in ("gradcam",)}
    for m in want:
        assert got[m].shape == (100, 32, 32) and got[m].dtype == want[m].dtype
        assert np.abs(want[m]).sum() > 0, m  # maps, not zeros
        assert np.array_equal(got[m], want[m]), f"{m} differs"


def test_a_memory_mapped_store_ships_its_path_not_its_images(pool, tmp_path):
    ds = to_store(dw.datasets.load("patch-digits", bias=0.99, seed=1, n_train=120, n_val=30, n_test=30),
                  tmp_path / "store", batch=64)
    assert ds.mapped
    eng = dw.Engine(ds, device="cpu", eval_batch_size=48)
    v = eng.train(epochs=1, progress=False)
    local = _fresh_evaluate(eng, v, "val")
    task = EvalTask(eng._ctx, eng._store.model(v.id), ds.indices("val"), eng.embedding_layer, "cpu")
    assert task.images is None and task.mmap.endswith("images.npy") and task.mmap.startswith(str(tmp_path.resolve()))
    with eng.executing(pool):
        _assert_same(local, _fresh_evaluate(eng, v, "val"))


def test_the_engine_closes_the_executor_it_made_from_a_name(ray_local, tiny, monkeypatch):
    """``executor="ray"`` makes an executor nobody else holds: replacing it (or leaving
    ``executing("ray")``) closes it; an executor passed in is left to its owner."""
    eng = dw.Engine(tiny[0].dataset, device="cpu", executor="ray")
    closed = []
    ex = eng.executor
    assert isinstance(ex, RayExecutor) and ex.from_name
    monkeypatch.setattr(ex, "close", lambda: closed.append(ex))
    eng.executor = "local"
    assert closed == [ex]
    with eng.executing("ray") as inner:
        monkeypatch.setattr(inner, "close", lambda: closed.append(inner))
    assert closed == [ex, inner] and isinstance(eng.executor, LocalExecutor)
    mine = RayExecutor()
    monkeypatch.setattr(mine, "close", lambda: closed.append(mine))
    eng.executor = mine
    with eng.executing("local"):
        pass
    eng.executor = "local"
    assert closed == [ex, inner]  # never the one passed in


def test_close_kills_the_actors_and_a_closed_executor_starts_again(pool, tiny):
    """(Last of the pool's tests: it restarts the pool.)"""
    ray = pytest.importorskip("ray")
    eng, v = tiny
    with eng.executing(pool):
        first = _fresh_evaluate(eng, v, "val")
        actors = list(pool._actors)
        assert len(actors) == 2 and pool._shared  # the images are held in the object store
        pool.close()
        assert pool.workers == 0 and not pool._shared
        for a in actors:
            with pytest.raises(ray.exceptions.RayActorError):
                ray.get(a.run.remote(0), timeout=60)
        _assert_same(first, _fresh_evaluate(eng, v, "val"))  # a new pool, the same results
        assert pool.workers == 2 and not any(a is b for a in actors for b in pool._actors)


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
    with pytest.raises(ValueError, match="pool must be one of"):
        RayExecutor(pool="threads")


def test_the_pool_is_no_larger_than_the_cluster_holds():
    """An actor the cluster can never place would make every call wait: one GPU per actor, and
    ``num_cpus`` CPUs each."""
    pytest.importorskip("ray")
    ex = RayExecutor(num_workers=4, num_cpus=2.0)
    assert ex.pool_size({"CPU": 16.0, "GPU": 8.0}, gpu=False) == 4
    assert ex.pool_size({"CPU": 6.0}, gpu=False) == 3
    assert ex.pool_size({"CPU": 1.0}, gpu=False) == 1
    assert ex.pool_size({"CPU": 16.0, "GPU": 1.0}, gpu=True) == 1
    with pytest.raises(RuntimeError, match="has no GPU"):
        ex.pool_size({"CPU": 16.0}, gpu=True)


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'dashwidgets\[ray\]'"):
        RayExecutor()
    with pytest.raises(ImportError, match="dashwidgets"):
        resolve_executor("ray")


class _FailingTask:
    """5 batches of 2 rows; batch ``bad`` raises (a task defined here, shipped by value)."""

    shared = ()

    def __init__(self, bad: int | None):
        self.bad, self.n_batches = bad, 5

    def setup(self):
        pass

    def __call__(self, k):
        if k == self.bad:
            raise ValueError(f"pixel soup in batch {k}")
        pos = np.arange(2 * k, 2 * k + 2)
        return {"pos": pos, "x": pos * 10}


@pytest.fixture
def by_value(ray_local):
    cp = ray_local.cloudpickle
    cp.register_pickle_by_value(sys.modules[__name__])
    yield
    cp.unregister_pickle_by_value(sys.modules[__name__])


def test_a_failing_batch_is_a_clear_error_naming_it_and_the_pool_still_works(pool, ray_local, by_value):
    from dashwidgets import BatchError  # exported at the top level, to be caught by users

    with pytest.raises(BatchError, match=r"^batch 3 of 5 of _FailingTask failed: ValueError: pixel soup in batch 3$"):
        pool.map_batches(_FailingTask(bad=3))
    out = pool.map_batches(_FailingTask(bad=None))  # no hang, no stale state: the next call runs
    assert out["x"].tolist() == list(range(0, 100, 10))  # in position order


def test_a_ray_data_failure_is_reported_as_the_batch_error_inside_it():
    """Ray Data wraps a worker's error in its own (UserCodeException) and keeps the BatchError
    only as text in the traceback it carries (what a real pool="data" failure looked like when
    this was written; that run costs ~30 s of actor start-up, so the parsing is checked here)."""
    ray = pytest.importorskip("ray")
    from ray.exceptions import RayTaskError, UserCodeException

    from dashwidgets.runtime.executor import BatchError, _data_error

    tb = ("Traceback (most recent call last):\n  File \"executor.py\", line 40, in _run_batch\n"
          "dashwidgets.runtime.executor.BatchError: batch 3 of 5 of _FailingTask failed: ValueError: pixel soup\n")
    wrapped = RayTaskError("MapWorker(MapBatches(_RayBatchActor)).submit", tb, UserCodeException("UDF failed"))
    err = _data_error(ray, wrapped.as_instanceof_cause(), _FailingTask(bad=3))
    assert isinstance(err, BatchError) and str(err) == "batch 3 of 5 of _FailingTask failed: ValueError: pixel soup"
    other = _data_error(ray, RuntimeError("object store full"), _FailingTask(bad=3))
    assert not isinstance(other, BatchError) and "a batch of _FailingTask failed on a Ray worker" in str(other)


def test_ray_start_up_is_retried_once_then_named(monkeypatch):
    ray = pytest.importorskip("ray")
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: len(calls) >= 2 and calls[-1] == "ok")
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append("shutdown"))

    def flaky(**kw):
        calls.append("ok" if calls.count("fail") == 1 else "fail")
        if calls[-1] == "fail":
            raise RuntimeError("raylet died")

    monkeypatch.setattr(ray, "init", flaky)
    assert RayExecutor()._ray() is ray and calls == ["fail", "shutdown", "ok"]

    def broken(**kw):
        calls.append("fail")
        raise RuntimeError("raylet died")

    monkeypatch.setattr(ray, "init", broken)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(RuntimeError, match=r"could not start or join Ray .* after 2 tries: RuntimeError: raylet died"):
        RayExecutor(address="auto")._ray()
