"""Comparing versions (Mosaic data), tracing images across versions (Trace data), and the active
version with its events."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

import dashwidgets as dw


@pytest.fixture(scope="module")
def three(small_ds):
    eng = dw.Engine(small_ds, device="cpu")
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    v3 = eng.retrain(v2, epochs=2, lr=1e-3, progress=False)
    return eng, v1, v2, v3


def test_compare_counts_equal_sklearns_confusion_difference(three):
    eng, v1, v2, _ = three
    cmp = eng.compare(v1, v2, split="test")
    y = eng.dataset.labels[eng.dataset.indices("test")]
    ca = confusion_matrix(y, eng.evaluate(v1, "test").pred, labels=range(10))
    cb = confusion_matrix(y, eng.evaluate(v2, "test").pred, labels=range(10))
    np.testing.assert_array_equal(cmp.confusion_a, ca)
    np.testing.assert_array_equal(cmp.confusion_b, cb)
    np.testing.assert_array_equal(cmp.diff, cb - ca)
    # flips: per image, consistent with each version's correctness
    f = cmp.flips
    assert isinstance(f, pd.DataFrame) and len(f) == len(y)
    r1, r2 = eng.evaluate(v1, "test").correct, eng.evaluate(v2, "test").correct
    assert (f["change"] == "became right").sum() == (~r1 & r2).sum() == len(cmp.became_right)
    assert (f["change"] == "became wrong").sum() == (r1 & ~r2).sum() == len(cmp.became_wrong)
    # per-class accuracy and a mosaic cell
    pc = cmp.per_class
    assert pc.loc["3", f"accuracy_{v2.id}"] == pytest.approx(cb[3, 3] / cb[3].sum())
    cell = cmp.cell(3, 5)
    assert len(cell) == cb[3, 5] and set(eng.dataset.labels[cell]) <= {3}
    with pytest.raises(ValueError, match="out of range"):
        cmp.cell(3, 10)
    assert "became right" in repr(cmp)


def test_trace_is_consistent_with_each_versions_correctness(three):
    eng, v1, v2, v3 = three
    tr = eng.trace([v1, v2, v3], split="test")
    assert tr.versions == ["v1", "v2", "v3"] and tr.correct.shape == (250, 3)
    for k, v in enumerate((v1, v2, v3)):
        np.testing.assert_array_equal(tr.correct[:, k], eng.evaluate(v, "test").correct)
    c = tr.correct
    np.testing.assert_array_equal(np.sort(tr.became_right()), tr.indices[~c[:, 0] & c[:, -1]])
    np.testing.assert_array_equal(np.sort(tr.became_wrong()), tr.indices[c[:, 0] & ~c[:, -1]])
    np.testing.assert_array_equal(tr.always_wrong(), tr.indices[~c.any(axis=1)])
    df = tr.to_frame()
    assert list(df.columns) == ["v1", "v2", "v3", "change"]
    assert set(df["change"]) <= set(dw.audit.CHANGES)
    assert len(eng.trace().versions) == len(eng.versions)  # default: all, oldest first
    with pytest.raises(ValueError, match="at least 2 versions"):
        eng.trace([v1])
    with pytest.raises(ValueError, match="unknown change"):
        tr.filter("improved")


def test_active_version_events_and_discard_rule(small_ds):
    eng = dw.Engine(small_ds, device="cpu")
    seen = []
    eng.on("active", seen.append)
    eng.on("version", seen.append)
    assert eng.active is None
    v1 = eng.train(epochs=1, progress=False)
    assert eng.active == v1
    v2 = eng.train(epochs=1, progress=False)
    assert eng.active == v2  # nothing pinned: the latest
    assert [(e["event"], e.get("new", e.get("version"))) for e in seen] == [
        ("version", "v1"), ("active", "v1"), ("version", "v2"), ("active", "v2")
    ]
    seen.clear()
    eng.active = "v1"  # pinned
    assert seen == [{"event": "active", "old": "v2", "new": "v1"}]
    v3 = eng.train(epochs=1, progress=False)
    assert eng.active == v1 and v3 in eng.versions
    with pytest.raises(ValueError, match="v1 is the active version"):
        eng.discard(v1)
    eng.discard(v3)
    with pytest.raises(ValueError, match="unknown version"):
        eng.active = "v9"
    # a failing listener becomes a warning; the change still happens
    def broken(ev):
        return 1 / 0

    eng.on("active", broken)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        eng.active = v2
    assert eng.active == v2 and any("ZeroDivisionError" in str(x.message) for x in w)
    eng.off("active", broken)
    eng.off("active", seen.append)
    seen.clear()
    eng.active = v1
    assert not [e for e in seen if e["event"] == "active"]
    with pytest.raises(ValueError, match="unknown event"):
        eng.on("trained", print)


def test_bound_method_listeners_are_weak(small_ds):
    eng = dw.Engine(small_ds, device="cpu")

    class Listener:
        def __init__(self):
            self.events = []

        def hear(self, ev):
            self.events.append(ev)

    a = Listener()
    eng.on("version", a.hear)
    eng.train(epochs=1, progress=False)
    assert len(a.events) == 1
    del a
    eng.train(epochs=1, progress=False)  # no error, and the dead listener is dropped
    assert eng._store.listeners("version") == 0


def test_workspace_keeps_lineage_and_the_pinned_active_version(small_ds, tmp_path):
    eng = dw.Engine(small_ds, device="cpu", workspace=tmp_path / "ws")
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, lr=1e-3, progress=False)
    eng.active = v1
    again = dw.Engine.open(tmp_path / "ws")
    assert again.active.id == "v1"
    assert again.version("v2").parent == "v1" and again.version("v2").lineage["parent"] == "v1"
    assert again.version("v2").hparams["lr"] == pytest.approx(1e-3)
    cmp = again.compare("v1", "v2")
    np.testing.assert_array_equal(cmp.diff, eng.compare(v1, v2).diff)
