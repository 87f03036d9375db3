"""ImageGallery from Python: filters, tags from the browser's messages, CSV export, detail panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import traitlets

import dashwidgets as dw
from dashwidgets.widgets._codec import array_to_json


@pytest.fixture(scope="module")
def engine2(small_ds):
    sub = small_ds.subset(np.r_[0:200, 600:660, 750:850])
    eng = dw.Engine(sub, device="cpu")
    v1 = eng.train(epochs=2, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    return eng, v1, v2


@pytest.fixture
def gal(engine2):
    eng, v1, _ = engine2
    g = dw.ImageGallery(eng, v1, page_size=5)
    yield g
    for name in list(eng.tags):
        eng.untag(name)
    g.close()


def _sent(g, monkeypatch):
    box = []
    monkeypatch.setattr(g, "send", lambda content, buffers=None: box.append(content))
    return box


def test_filters_apply_to_the_selection_or_to_all_images(engine2, gal):
    eng, v1, _ = engine2
    ev, ds = eng.evaluate(v1), eng.dataset
    assert gal.total == 0 and gal.base_total == 0 and gal.classes == ds.classes  # nothing selected, no filter
    gal.filter_correct = "wrong"  # a filter without a selection browses all images
    wrong = np.flatnonzero(~ev.correct)
    assert gal.base_total == len(ds) and gal.total == len(wrong)
    np.testing.assert_array_equal(gal.ordered(), wrong)
    assert [it["index"] for it in gal.items] == wrong[:5].tolist() and not any(it["correct"] for it in gal.items)
    sel = list(range(0, 300, 7))
    gal.selection = sel
    assert gal.base_total == len(sel)
    np.testing.assert_array_equal(gal.ordered(), [i for i in sel if not ev.correct[i]])
    gal.filter_correct = ""
    gal.filter_split = "val"
    gal.filter_label = ds.classes[ds.labels[203]]
    expected = [i for i in sel if ds.split[i] == "val" and ds.labels[i] == ds.labels[203]]
    np.testing.assert_array_equal(gal.ordered(), expected)
    np.testing.assert_array_equal(gal.ordered(), eng.filter(v1, sel, label=gal.filter_label, split="val"))
    gal.filter_split = gal.filter_label = ""
    common = ds.classes[int(np.bincount(ev.pred).argmax())]
    gal.filter_pred = common
    assert all(it["pred"] == common for it in gal.items) and gal.total == sum(ev.pred[i] == ds.classes.index(common) for i in sel)
    gal.sort_by, gal.descending = "confidence", True
    conf = [ev.confidence[i] for i in gal.ordered()]
    assert conf == sorted(conf, reverse=True)


@pytest.mark.parametrize(
    "trait, value, match",
    [("filter_label", "cat", "unknown class 'cat' for filter_label"), ("filter_pred", "7x", "unknown class '7x' for filter_pred"),
     ("filter_split", "dev", "unknown filter_split 'dev'"), ("filter_correct", "yes", "unknown filter_correct 'yes'"),
     ("filter_tag", "nope", "unknown tag 'nope'"), ("detail_method", "shap", "unknown detail_method 'shap'")],
)
def test_bad_filter_values_are_refused_and_shown(gal, trait, value, match):
    with pytest.raises(traitlets.TraitError, match=match):
        setattr(gal, trait, value)
    assert repr(value) in gal.error and getattr(gal, trait) in ("", "gradcam")  # unchanged


def test_tag_the_selection_select_a_tag_and_remove_it_from_browser_messages(engine2, gal):
    eng, v1, _ = engine2
    gal._on_msg(gal, {"action": "tag", "name": " hard ", "form": {"selection": [4, 9, 30]}}, [])
    assert eng.tags == {"hard": [4, 9, 30]} and gal.selection == [4, 9, 30] and gal.error == ""
    assert gal.tags == [{"name": "hard", "count": 3}]
    other = dw.ImageGallery(eng, v1)  # every gallery hears the engine's tags event
    eng.tag("hard", [31])
    assert other.tags == gal.tags == [{"name": "hard", "count": 4}]
    gal.selection = []
    gal._on_msg(gal, {"action": "select_tag", "name": "hard"}, [])
    assert gal.selection == [4, 9, 30, 31] and gal.total == 4
    gal.filter_tag = "hard"
    gal.selection = []
    assert gal.base_total == len(eng.dataset) and gal.ordered().tolist() == [4, 9, 30, 31]
    gal._on_msg(gal, {"action": "tag", "name": "   ", "form": {"selection": [1]}}, [])
    assert "tag name must not be empty" in gal.error and set(eng.tags) == {"hard"}
    gal._on_msg(gal, {"action": "tag", "name": "none", "form": {"selection": []}}, [])
    assert "no images to tag 'none'" in gal.error
    gal._on_msg(gal, {"action": "untag", "name": "hard"}, [])
    assert eng.tags == {} and gal.tags == [] and other.tags == []
    assert gal.filter_tag == "" and gal.total == 0  # the filter of a removed tag is dropped
    other.close()


def test_export_is_the_engine_table_of_what_is_shown(engine2, gal, tmp_path, monkeypatch):
    eng, v1, _ = engine2
    ev = eng.evaluate(v1)
    eng.tag("t", [12, 40])
    gal.selection = [40, 12, 3, 250, 301]
    gal.sort_by = "loss"
    df = gal.to_dataframe()
    order = gal.ordered().tolist()
    assert df["index"].tolist() == order == sorted(gal.selection, key=lambda i: ev.loss[i])
    assert df["prediction"].tolist() == [eng.classes[ev.pred[i]] for i in order]
    assert df["label"].tolist() == [eng.classes[eng.dataset.labels[i]] for i in order]
    assert df["correct"].tolist() == [bool(ev.correct[i]) for i in order]
    np.testing.assert_allclose(df["confidence"], ev.confidence[order])
    assert dict(zip(df["index"], df["tags"], strict=True))[12] == "t"
    back = pd.read_csv(gal.to_csv(tmp_path / "g.csv"), keep_default_na=False)
    assert back["index"].tolist() == order and back["prediction"].astype(str).tolist() == df["prediction"].tolist()
    sent = _sent(gal, monkeypatch)
    gal._on_msg(gal, {"action": "export"}, [])
    assert sent[-1]["type"] == "csv" and sent[-1]["name"] == f"gallery-{v1.id}.csv"
    assert sent[-1]["text"] == df.to_csv(index=False)


def test_detail_payload_is_the_engine_detail_of_the_focused_image(engine2, gal):
    eng, v1, v2 = engine2
    assert gal.detail == {}
    gal.focus = 203
    d = eng.image_detail(203, v1)
    np.testing.assert_array_equal(gal.detail_image, eng.dataset.images[203].transpose(1, 2, 0))
    np.testing.assert_array_equal(gal.detail_mask, eng.dataset.masks["bias"][203].astype(np.uint8))
    np.testing.assert_allclose(gal.detail_heat, eng.attribute(v1, [203], numpy=True)[0])
    assert gal.detail["history"] == d["history"] and [h["version"] for h in gal.detail["history"]] == [v1.id, v2.id]
    assert gal.detail["index"] == 203 and gal.detail["version"] == v1.id and gal.detail["method"] == "gradcam"
    assert gal.detail["heat_max"] == pytest.approx(float(d["heat"].max()))
    wire = array_to_json(gal.detail_heat)  # the typed codec: dtype and shape travel with the bytes
    assert wire["dtype"] == "float32" and wire["shape"] == list(eng.dataset.image_size)
    gal.version = v2.id  # the map follows the version
    np.testing.assert_allclose(gal.detail_heat, eng.attribute(v2, [203], numpy=True)[0])
    gal.detail_method = "ig"
    assert gal.detail["method"] == "ig"
    gal.focus = -1
    assert gal.detail == {} and gal.detail_image.size == 0
