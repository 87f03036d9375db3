"""Tags (named, saved selections), filters, the selection table and one image's detail."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import dashwidgets as dw


@pytest.fixture
def tiny(small_ds):
    return small_ds.subset(np.r_[0:60, 600:620, 750:770])


def test_tag_untag_and_the_event(tiny):
    eng = dw.Engine(tiny, device="cpu")
    events = []
    eng.on("tags", events.append)
    assert eng.tag("  odd ones ", [7, 3, 3]) == [3, 7]
    assert eng.tag("odd ones", np.array([5, 3])) == [3, 5, 7]
    eng.tag("b", [1])
    assert eng.tags == {"b": [1], "odd ones": [3, 5, 7]}
    assert eng.untag("odd ones", [5]) == [3, 7]
    assert eng.untag("b") == [] and "b" not in eng.tags
    assert eng.untag("odd ones", [3, 7]) == [] and eng.tags == {}  # an emptied tag is gone
    assert [e["tag"] for e in events] == ["odd ones", "odd ones", "b", "odd ones", "b", "odd ones"]
    assert events[0]["added"] == 2 and events[1]["added"] == 1 and events[3]["removed"] == 1
    copy = eng.tags
    copy["x"] = [1]
    assert "x" not in eng.tags  # a copy, not the store


@pytest.mark.parametrize(
    "name, indices, error, match",
    [
        ("", [1], ValueError, "must not be empty"),
        ("   ", [1], ValueError, "must not be empty"),
        (None, [1], TypeError, "must be a string, got NoneType"),
        (3, [1], TypeError, "must be a string, got int"),
        ("x" * 65, [1], ValueError, "65 characters long; at most 64"),
        ("a\nb", [1], ValueError, "control characters"),
        ("ok", [1, 100], ValueError, r"out of range \[0, 100\): \[100\]"),
        ("ok", [-1], ValueError, r"out of range \[0, 100\): \[-1\]"),
        ("ok", [1.5], ValueError, "must be integers"),
        ("ok", [], ValueError, "no images to tag 'ok'"),
        ("ok", "12", TypeError, "got the string '12'"),
    ],
)
def test_bad_names_and_indices_are_refused_with_the_problem_named(tiny, name, indices, error, match):
    eng = dw.Engine(tiny, device="cpu")
    with pytest.raises(error, match=match):
        eng.tag(name, indices)
    assert eng.tags == {}


def test_untag_of_an_unknown_tag_names_the_known_ones(tiny):
    eng = dw.Engine(tiny, device="cpu")
    eng.tag("a", [1])
    with pytest.raises(ValueError, match=r"unknown tag 'b'; tags are \['a'\]"):
        eng.untag("b")


def test_tags_round_trip_through_a_workspace_reopen(tiny, tmp_path):
    path = tmp_path / "ws"
    eng = dw.Engine(tiny, device="cpu", workspace=path)
    eng.tag("shortcut", [4, 2])
    eng.tag("ünïcode ✓", [9])
    eng.untag("shortcut", [4])
    data = json.loads((path / "tags.json").read_text())
    assert data["tags"] == {"shortcut": [2], "ünïcode ✓": [9]}
    assert not list(path.glob("*.tmp"))
    again = dw.Engine.open(path, device="cpu")
    assert again.tags == {"shortcut": [2], "ünïcode ✓": [9]}
    again.untag("shortcut")
    assert dw.Engine.open(path, device="cpu").tags == {"ünïcode ✓": [9]}


def test_two_kernels_tagging_one_workspace_merge_their_tags(tiny, tmp_path):
    path = tmp_path / "ws"
    a = dw.Engine(tiny, device="cpu", workspace=path)
    b = dw.Engine.open(path, device="cpu")  # a second kernel on the same folder
    a.tag("mine", [1, 2])
    b.tag("yours", [3])  # b never saw "mine": it reads the file again before it writes
    a.tag("mine", [5])
    b.untag("mine", [1])
    assert json.loads((path / "tags.json").read_text())["tags"] == {"mine": [2, 5], "yours": [3]}
    assert dw.Engine.open(path, device="cpu").tags == {"mine": [2, 5], "yours": [3]}


def test_in_memory_engine_writes_no_file(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eng = dw.Engine(tiny, device="cpu")
    eng.tag("a", [1])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps([1, 2]), json.dumps({"format": "dashwidgets-tags", "tags": {"a": [1, 5000]}}),
     json.dumps({"format": "dashwidgets-tags", "tags": {"a": "1,2"}}), b"\xff\xfe\x00"],
)
def test_a_corrupt_tags_file_is_named_kept_aside_and_the_rest_loads(tiny, tmp_path, content):
    path = tmp_path / "ws"
    eng = dw.Engine(tiny, device="cpu", workspace=path)
    v1 = eng.train(epochs=1, progress=False)
    eng.tag("a", [1])
    raw = content if isinstance(content, bytes) else content.encode()
    (path / "tags.json").write_bytes(raw)
    with pytest.warns(dw.WorkspaceWarning, match=r"corrupted tags file .*tags\.json.*kept as tags\.json\.corrupt"):
        again = dw.Engine.open(path, device="cpu")
    assert [v.id for v in again.versions] == [v1.id]  # the versions still load
    assert again.tags == {}
    assert any("tags.json" in e for e in again.workspace_errors)
    assert (path / "tags.json.corrupt").read_bytes() == raw  # the user's file is not lost
    again.tag("b", [2])  # a fresh file is written; the corrupt one stays
    assert json.loads((path / "tags.json").read_text())["tags"] == {"b": [2]}
    assert (path / "tags.json.corrupt").read_bytes() == raw
    (path / "tags.json").write_text("{again")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        dw.Engine.open(path, device="cpu")
    assert (path / "tags.json.corrupt").read_bytes() == raw and (path / "tags.json.corrupt2").read_text() == "{again"


def test_filter_matches_the_engine_predictions(trained):
    eng, v = trained
    ds = eng.dataset
    ev = eng.evaluate(v)
    np.testing.assert_array_equal(eng.filter(v), np.arange(len(ds)))
    np.testing.assert_array_equal(eng.filter(v, correct="wrong"), np.flatnonzero(~ev.correct))
    np.testing.assert_array_equal(eng.filter(v, correct=True), np.flatnonzero(ev.correct))
    cls = ds.classes[3]
    np.testing.assert_array_equal(eng.filter(v, label=cls, split="test"),
                                  np.flatnonzero((ds.labels == 3) & (ds.split == "test")))
    common = int(np.bincount(ev.pred).argmax())
    np.testing.assert_array_equal(eng.filter(v, pred=common), np.flatnonzero(ev.pred == common))
    base = np.array([40, 2, 700, 5])  # keeps the order of the indices given
    eng.tag("t", [5, 40, 41])
    try:
        np.testing.assert_array_equal(eng.filter(v, base, tag="t"), [40, 5])
    finally:
        eng.untag("t")
    with pytest.raises(ValueError, match="unknown label class 'nope'"):
        eng.filter(v, label="nope")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        eng.filter(v, split="dev")
    with pytest.raises(ValueError, match="correct must be None, True/False or 'correct'/'wrong', got 'yes'"):
        eng.filter(v, correct="yes")
    with pytest.raises(ValueError, match="unknown tag 'zzz'"):
        eng.filter(v, tag="zzz")


def test_frame_rows_are_the_engine_predictions_and_tags(trained):
    eng, v = trained
    ds = eng.dataset
    ev = eng.evaluate(v)
    idx = [9, 0, 777]
    eng.tag("x", [0, 777])
    eng.tag("y", [777])
    try:
        df = eng.frame(idx, v)
    finally:
        eng.untag("x")
        eng.untag("y")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["index", "split", "label", "prediction", "confidence", "correct", "tags"]
    assert df["index"].tolist() == idx
    assert df["label"].tolist() == [ds.classes[ds.labels[i]] for i in idx]
    assert df["prediction"].tolist() == [ds.classes[ev.pred[i]] for i in idx]
    np.testing.assert_allclose(df["confidence"], ev.confidence[idx])
    assert df["correct"].tolist() == ev.correct[idx].tolist()
    assert df["split"].tolist() == ds.split[idx].tolist()
    assert df["tags"].tolist() == ["", "x", "x; y"]


def test_image_detail_holds_image_mask_map_and_every_version(small_ds):
    eng = dw.Engine(small_ds.subset(np.r_[0:80, 600:640, 750:790]), device="cpu")
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    d = eng.image_detail(7)
    assert d["version"] == v2.id and d["index"] == 7  # the active version by default
    np.testing.assert_array_equal(d["image"], eng.dataset.images[7].transpose(1, 2, 0))
    np.testing.assert_array_equal(d["bias_mask"], eng.dataset.masks["bias"][7])
    np.testing.assert_allclose(d["heat"], eng.attribute(v2, [7], numpy=True)[0])
    assert d["heat"].shape == eng.dataset.image_size
    assert [h["version"] for h in d["history"]] == [v1.id, v2.id]
    for h, v in zip(d["history"], (v1, v2), strict=True):
        ev = eng.evaluate(v)
        assert h["prediction"] == eng.classes[ev.pred[7]] and h["correct"] == bool(ev.correct[7])
        assert h["confidence"] == pytest.approx(float(ev.confidence[7]))
    assert eng.image_detail(7, v1)["version"] == v1.id
    with pytest.raises(ValueError, match=r"out of range"):
        eng.image_detail(10_000)
