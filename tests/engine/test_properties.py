"""Property-based tests over the public API's inputs: every call either succeeds or raises a
ValueError/TypeError whose message names the argument (never another exception type), and the
workspace reopens with every version that finished meanwhile."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dashwidgets as dw

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SIZE = 16


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny engine with a workspace and one version: (engine, version, workspace path)."""
    ds = dw.datasets.load("colored-digits", bias=0.99, seed=0, size=SIZE, n_train=96, n_val=32, n_test=32)
    path = tmp_path_factory.mktemp("props") / "ws"
    eng = dw.Engine(ds, device="cpu", workspace=path)
    v = eng.train(epochs=1, batch_size=32, progress=False)
    return eng, v, path


def _refused_naming(call, *names: str) -> bool:
    """Run ``call``: True when it succeeded, False when it raised ValueError/TypeError naming one
    of ``names``; any other exception type, or a message naming none of them, fails the test."""
    try:
        call()
    except (ValueError, TypeError) as e:
        msg = str(e)
        assert any(n in msg for n in names), f"{type(e).__name__} does not name {names}: {msg}"
        return False
    return True


# ---------------------------------------------------------------- strategies
ODD_DTYPES = st.sampled_from(
    [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint64, np.int64, np.float16, np.float32,
     np.float64, np.bool_, np.complex64]
)
numpy_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(0, 255).map(np.uint8),
    st.floats(width=32, allow_nan=True, allow_infinity=True).map(np.float32),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.booleans().map(np.bool_),
)
indices = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(-300, 300), max_size=6),
    st.lists(st.lists(st.integers(-5, 200), max_size=3), max_size=3),  # nested, ragged too
    st.lists(st.one_of(st.integers(0, 100), st.floats(), st.booleans(), st.text(max_size=2)), max_size=4),
    hnp.arrays(ODD_DTYPES, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4)),
    numpy_scalars,
)
splits = st.one_of(
    st.sampled_from(["train", "val", "test"]),
    st.none(),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.sampled_from(["train", "val", "test"]), max_size=3),
    st.tuples(st.just("val")),
)
any_value = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-3, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(1e-5, 1.0),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.sampled_from(["adam", "sgd", "adamw", "3", "1e-3"]),
    st.lists(st.integers(0, 3), max_size=2),
    numpy_scalars,
)
HPARAMS = ["epochs", "lr", "batch_size", "weight_decay", "seed", "optimizer"]


# ---------------------------------------------------------------- indices
@settings(max_examples=150, **SETTINGS)
@given(idx=indices)
def test_indices_of_any_form_are_used_or_refused_by_name(tiny, idx):
    eng, v, _ = tiny
    if _refused_naming(lambda: eng.inputs(idx), "indices", "idx"):
        x = eng.inputs(idx)
        assert x.dtype == torch.float32 and x.shape[1:] == (3, SIZE, SIZE)


@settings(max_examples=40, **SETTINGS)
@given(idx=indices)
def test_attribute_takes_indices_of_any_form_or_refuses_them_by_name(tiny, idx):
    eng, v, _ = tiny
    if _refused_naming(lambda: eng.attribute(v, idx, "gradcam", numpy=True), "indices", "idx", "selection"):
        maps = eng.attribute(v, idx, "gradcam", numpy=True)
        assert maps.ndim == 3 and maps.shape[1:] == (SIZE, SIZE) and np.isfinite(maps).all()


# ---------------------------------------------------------------- splits
@settings(max_examples=80, **SETTINGS)
@given(split=splits)
def test_split_of_any_form_is_used_or_refused_by_name(tiny, split):
    eng, v, _ = tiny
    if _refused_naming(lambda: eng.evaluate(v, split=split), "split"):
        r = eng.evaluate(v, split=split)
        assert len(r.pred) == len(eng.dataset.indices(split))


# ---------------------------------------------------------------- hyper-parameters
@settings(max_examples=60, **SETTINGS)
@given(name=st.sampled_from(HPARAMS), value=any_value, background=st.booleans())
def test_hyper_parameters_of_any_type_train_or_are_refused_by_name_before_training(tiny, name, value, background):
    """An invalid value is refused at the call, by name, by train, train_async and train_config
    alike, and no version appears; a valid one trains (epochs capped at 1: tiny data)."""
    eng, v, _ = tiny
    hp = {"epochs": 1, "batch_size": 32, name: value}
    before = [x.id for x in eng.versions]
    try:
        cfg = eng.train_config(**hp)
    except (ValueError, TypeError) as e:
        assert name in str(e), f"{type(e).__name__} does not name {name!r}: {e}"
        for call in (lambda: eng.train(**hp, progress=False), lambda: eng.train_async(**hp)):
            with pytest.raises(type(e), match=name):
                call()
        assert [x.id for x in eng.versions] == before
        return
    if cfg.epochs > 1 or cfg.batch_size < 16:
        return  # valid, but too long to run here; the config accepted it
    assert math.isfinite(cfg.lr) and cfg.lr > 0 and cfg.weight_decay >= 0
    try:
        if background:
            new = eng.train_async(**hp).result(timeout=120)
        else:
            new = eng.train(**hp, progress=False)
    except FloatingPointError as e:
        # a valid but huge lr diverges: the run stops, names lr, and keeps no version
        assert "lr" in str(e) and cfg.lr > 1e-3, e
        assert [x.id for x in eng.versions] == before
        return
    assert new.hparams == cfg.to_dict()
    assert [x.id for x in eng.versions] == [*before, new.id]


# ---------------------------------------------------------------- predict
images = st.one_of(
    hnp.arrays(
        st.sampled_from([np.uint8, np.int64, np.float32, np.bool_, np.float64]),
        hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
    ),
    st.integers(0, 3).flatmap(
        lambda n: hnp.arrays(st.sampled_from([np.uint8, np.float32, np.int16]), (n, 3, SIZE, SIZE))
    ),
    st.integers(0, 2).flatmap(lambda n: hnp.arrays(np.uint8, (n, SIZE, SIZE, 3))),
    st.lists(st.integers(0, 255), max_size=4),
    st.none(),
    st.text(max_size=3),
)


@settings(max_examples=80, **SETTINGS)
@given(imgs=images)
def test_predict_takes_images_like_the_datasets_or_refuses_them_by_name(tiny, imgs):
    eng, v, _ = tiny
    if _refused_naming(lambda: eng.predict(v, imgs), "images"):
        out = eng.predict(v, imgs)
        n = len(imgs)
        assert out["pred"].shape == (n,) and out["probs"].shape == (n, eng.dataset.num_classes)


# ---------------------------------------------------------------- labels of from_tensors
N = 6
labels = st.one_of(
    st.lists(st.integers(-3, 12), min_size=N, max_size=N),
    st.lists(st.integers(0, 3), min_size=0, max_size=N + 2),
    st.lists(st.one_of(st.integers(0, 3), st.floats(), st.booleans(), st.text(max_size=2), st.none()),
             min_size=N, max_size=N),
    hnp.arrays(ODD_DTYPES, st.sampled_from([(N,), (N, 1), (), (N - 1,), (2, 3)])),
    st.integers(),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=120, **SETTINGS)
@given(lab=labels)
def test_from_tensors_takes_labels_or_refuses_them_by_name(lab):
    imgs = np.zeros((N, 3, 8, 8), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unused class indices are a warning, not an error
        if _refused_naming(lambda: dw.datasets.from_tensors(imgs, lab), "label"):
            ds = dw.datasets.from_tensors(imgs, lab)
            assert ds.labels.dtype == np.int64 and len(ds.labels) == N
            assert ds.labels.min() >= 0 and ds.labels.max() < ds.num_classes


# ---------------------------------------------------------------- the workspace afterwards
def test_workspace_reopens_with_every_finished_version(tiny):
    """Runs after the properties above (file order): the versions they trained are all on disk,
    with the same weights."""
    eng, v, path = tiny
    again = dw.Engine.open(path, device="cpu")
    assert again.workspace_errors == []
    assert [x.id for x in again.versions] == [x.id for x in eng.versions]
    for x in eng.versions:
        mine, theirs = eng._store.weights(x.id), again._store.weights(x.id)
        assert all(torch.equal(mine[k], theirs[k]) for k in mine), x.id
