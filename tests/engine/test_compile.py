"""Engine(compile=True): torch.compile in evaluation and training gives what eager gives, and
what it saves is the plain model's weights (loads in an engine without compile)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dashwidgets as dw
from dashwidgets.runtime import device as rdev


@pytest.fixture(scope="module")
def tiny_ds() -> dw.datasets.ImageSet:
    return dw.datasets.load("colored-digits", bias=0.99, seed=0, size=16, n_train=96, n_val=40, n_test=30)


def test_compile_must_be_a_bool(tiny_ds):
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="compile must be True or False"):
            dw.Engine(tiny_ds, device="cpu", compile=bad)
    assert dw.Engine(tiny_ds, device="cpu").compile is False


def test_compile_without_a_cpp_compiler_says_so(tiny_ds, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(rdev.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="needs a C\\+\\+ compiler"):
        dw.Engine(tiny_ds, device="cpu", compile=True)


def test_engines_on_one_model_object_keep_their_own_compile_flag_and_leave_the_module_alone(tiny_ds, monkeypatch):
    from dashwidgets.engine import context

    monkeypatch.setattr(context, "check_compile", lambda value, device: bool(value))  # no compiler needed for a flag
    model = dw.models.SmallCNN(num_classes=tiny_ds.num_classes)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    comp = dw.Engine(tiny_ds, model=model, device="cpu", compile=True)
    plain = dw.Engine(tiny_ds, model=model, device="cpu")  # the same object, compile off
    assert getattr(comp._ctx.template, rdev.COMPILE_ATTR) is True  # not switched off by the second engine
    assert getattr(plain._ctx.template, rdev.COMPILE_ATTR) is False
    assert comp._ctx.template is not model and not hasattr(model, rdev.COMPILE_ATTR)
    v = plain.train(epochs=1, progress=False)
    assert not getattr(plain.model(v), rdev.COMPILE_ATTR)
    after = model.state_dict()  # the caller's module: same weights, still in training mode as built
    assert all(torch.equal(before[k], after[k]) for k in before) and model.training


@pytest.mark.slow
def test_compiled_engine_matches_eager_and_saves_plain_weights(tiny_ds, tmp_path, monkeypatch):
    from torch._dynamo.utils import counters

    # no disk cache: the plain engine below opens the same workspace and would otherwise read
    # the compiled engine's cached evaluations instead of computing its own
    monkeypatch.setenv("DASHWIDGETS_CACHE_MB", "0")

    graphs = counters["stats"]["unique_graphs"]
    ws = tmp_path / "ws"
    # batch 32 over 40 val images: the second batch is short (padded to 32 inside)
    comp = dw.Engine(tiny_ds, device="cpu", compile=True, eval_batch_size=32, workspace=ws)
    assert comp.compile is True
    v = comp.train(epochs=1, batch_size=32, progress=False)  # 96 = 3 full batches
    assert counters["stats"]["unique_graphs"] > graphs  # training really ran compiled
    weights = comp.model(v).state_dict()
    assert not any("_orig_mod" in k for k in weights)
    plain = dw.Engine.open(ws, device="cpu", eval_batch_size=32)  # no compile: the saved version loads
    assert plain.compile is False and plain.versions[-1].id == v.id
    for split in ("val", None):
        graphs = counters["stats"]["unique_graphs"]
        a, b = comp.evaluate(v, split=split), plain.evaluate(v, split=split)
        assert plain.cache_info()["disk"]["files"] == 0  # each engine computed its own
        if split == "val":  # the first evaluate (hooked embedding layer) compiles a new graph
            assert counters["stats"]["unique_graphs"] > graphs
        assert len(a.pred) == len(b.pred) == len(tiny_ds.indices(split))
        np.testing.assert_allclose(a.probs, b.probs, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(a.pred, b.pred)
        np.testing.assert_allclose(a.embedding, b.embedding, rtol=1e-4, atol=1e-5)
    # the same run trained eagerly (same seed, same initial weights) reaches the same weights
    eager = dw.Engine(tiny_ds, device="cpu", eval_batch_size=32)
    ew = eager.model(eager.train(epochs=1, batch_size=32, progress=False)).state_dict()
    assert ew.keys() == weights.keys()
    for k in ew:
        torch.testing.assert_close(weights[k], ew[k], rtol=1e-3, atol=1e-4, msg=k)
