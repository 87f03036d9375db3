"""SubgroupPanel from Python: its rows, atlas, picked pair and confusion matrices are what
Engine.subgroups says; clicks (subgroup, focus) set the selection and the Grad-CAM window; bad
arguments show the engine's message in ``error`` instead of raising."""

from __future__ import annotations

import io

import numpy as np
import pytest
import traitlets
from PIL import Image
from torch import nn

import dashwidgets as dw
from dashwidgets.widgets._atlas import thumbnails
from dashwidgets.widgets.subgroups import SubgroupPanel


@pytest.fixture(scope="module")
def two_versions(small_ds):
    sub = small_ds.subset(np.r_[0:200, 600:660, 750:850])
    eng = dw.Engine(sub, device="cpu")
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    return eng, v1, v2


def _cells(png: bytes, cols: int, cell: int, n: int) -> list[np.ndarray]:
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return [sheet[(k // cols) * cell : (k // cols + 1) * cell, (k % cols) * cell : (k % cols + 1) * cell] for k in range(n)]


def test_rows_are_the_under_performing_subgroups_worst_first(trained):
    eng, v = trained
    panel = SubgroupPanel(eng, v, per_row=5)
    sg = eng.subgroups(v, k=None, split="test", method="kmeans")
    ev = eng.evaluate(v)
    assert panel.error == "" and panel.subgroups() is sg  # asked the engine (its cached object)
    assert sg.under, "the 2-epoch fixture must have an under-performing subgroup for this test"
    s = panel.summary
    assert (s["k"], s["n_under"], s["n_images"], s["split"], s["method"]) == (sg.k, len(sg.under), 250, "test", "kmeans")
    assert s["overall_accuracy"] == pytest.approx(sg.overall_accuracy)
    assert s["threshold"] == pytest.approx(0.5 * sg.overall_accuracy)
    assert [r["id"] for r in panel.rows] == sg.under
    accs = [r["accuracy"] for r in panel.rows]
    assert accs == sorted(accs) and all(a < s["threshold"] for a in accs)
    offset = 0
    for r in panel.rows:
        members = sg.members(r["id"])
        assert r["size"] == len(members) and r["accuracy"] == pytest.approx(ev.correct[members].mean())
        assert [im["index"] for im in r["images"]] == members[:5].tolist()
        assert r["more"] == max(0, len(members) - 5) and r["offset"] == offset
        assert r["wrong"] == int((~ev.correct[members]).sum())
        for im in r["images"]:
            assert im["correct"] == bool(ev.correct[im["index"]])
            assert im["pred"] == eng.classes[int(ev.pred[im["index"]])]
        offset += len(r["images"])
    # the atlas holds the rows' images in order
    shown = [im["index"] for r in panel.rows for im in r["images"]]
    cells = _cells(panel.atlas, panel.atlas_cols, panel.cell, len(shown))
    want = thumbnails(eng.dataset.images[shown], panel.cell)
    for got, exp in zip(cells, want, strict=True):
        np.testing.assert_array_equal(got, exp)
    panel.close()


def test_picking_a_subgroup_shows_its_pair_and_both_confusions_and_selects_it(trained):
    eng, v = trained
    panel = SubgroupPanel(eng, v)
    sg = panel.subgroups()
    worst = sg.under[0]
    panel.subgroup = worst
    p = panel.picked
    pair = sg.pair(worst)
    assert p["id"] == worst and p["pair"]["id"] == pair and p["classes"] == eng.classes
    np.testing.assert_array_equal(p["confusion"], sg.confusion(worst))
    np.testing.assert_array_equal(p["pair_confusion"], sg.confusion(pair))
    assert p["max_count"] == max(sg.confusion(worst).max(), sg.confusion(pair).max())
    assert p["pair"]["accuracy"] >= panel.summary["threshold"]
    assert [im["index"] for im in p["pair"]["images"]] == sg.members(pair)[: panel.per_row].tolist()
    cells = _cells(panel.pair_atlas, panel.pair_atlas_cols, panel.cell, len(p["pair"]["images"]))
    np.testing.assert_array_equal(cells[-1], thumbnails(eng.dataset.images[[p["pair"]["images"][-1]["index"]]], panel.cell)[0])
    assert panel.selection == sg.members(worst).tolist()  # linked projection/gallery show them
    # a well-performing id is refused and said so; the pick stays
    well = next(i for i in range(sg.k) if i not in sg.under)
    with pytest.raises(traitlets.TraitError, match="not under-performing"):
        panel.subgroup = well
    assert panel.subgroup == worst and "not under-performing" in panel.error
    panel.subgroup = -1
    assert panel.picked == {} and panel.pair_atlas == b""
    assert panel.selection == sg.members(worst).tolist()  # unpicking leaves the selection alone
    panel.close()


def test_clicking_an_image_opens_its_grad_cam(trained):
    eng, v = trained
    panel = SubgroupPanel(eng, v)
    index = panel.rows[0]["images"][0]["index"]
    panel.focus = index
    d = eng.image_detail(index, v, method="gradcam")
    assert panel.detail["index"] == index and panel.detail["method"] == "gradcam"
    np.testing.assert_array_equal(panel.detail_heat, d["heat"])
    np.testing.assert_array_equal(panel.detail_image, d["image"])
    panel.focus = -1
    assert panel.detail == {}
    panel.close()


def test_engine_errors_show_in_the_view_and_can_be_fixed_there(trained):
    eng, v = trained
    panel = SubgroupPanel(eng, v, k=10_000)  # does not raise
    with pytest.raises(ValueError) as info:
        eng.subgroups(v, k=10_000)
    assert panel.error == str(info.value) and "k=10000" in panel.error
    assert panel.rows == [] and panel.summary == {} and panel.subgroups() is None
    with pytest.raises(traitlets.TraitError, match="no subgroups"):
        panel.subgroup = 0
    panel.k = None
    assert panel.error == "" and panel.rows
    panel.split = "holdout"
    assert panel.error.startswith("unknown split 'holdout'") and panel.rows == []
    panel.split = "test"
    panel.method = "dbscan"
    assert "unknown clustering method 'dbscan'" in panel.error and panel.rows == []
    panel.method = "hierarchical"
    assert panel.error == "" and panel.summary["method"] == "hierarchical"
    assert panel.subgroups() is eng.subgroups(v, split="test", method="hierarchical")
    assert SubgroupPanel(eng, v, split="nope").error.startswith("unknown split 'nope'")
    with pytest.raises(TypeError, match="unexpected keyword"):
        SubgroupPanel(eng, v, kk=3)
    with pytest.raises(traitlets.TraitError, match="per_row"):
        panel.per_row = 0
    panel.close()


def test_picking_resets_when_the_subgroups_change(trained):
    eng, v = trained
    panel = SubgroupPanel(eng, v)
    panel.subgroup = panel.rows[0]["id"]
    panel.k = 7  # new subgroups: ids name other images now
    assert panel.subgroup == -1 and panel.picked == {}
    assert [r["id"] for r in panel.rows] == eng.subgroups(v, k=7).under
    panel.close()


def test_no_under_performing_subgroup_is_said_plainly(trained):
    eng, v = trained
    assert eng.subgroups(v, k=2).under == []  # the precondition, checked
    panel = SubgroupPanel(eng, v, k=2)
    assert panel.error == "" and panel.rows == [] and panel.summary["n_under"] == 0 and panel.summary["k"] == 2
    panel.close()


def test_follows_the_active_version_unless_pinned(two_versions):
    eng, v1, v2 = two_versions
    eng.active = v1
    free, pinned = SubgroupPanel(eng), SubgroupPanel(eng, v1)
    assert free.version == pinned.version == "v1"
    free.subgroup = free.rows[0]["id"] if free.rows else -1
    eng.active = v2
    assert free.version == "v2" and pinned.version == "v1"
    assert free.summary["version"] == "v2" and free.subgroup == -1
    assert [r["id"] for r in free.rows] == eng.subgroups(v2).under
    free.close()
    pinned.close()


def test_a_model_without_conv_layers_shows_why_there_is_no_grad_cam(small_ds):
    sub = small_ds.subset(np.r_[0:120, 600:630, 750:810])
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 16), nn.ReLU(), nn.Linear(16, 10))
    eng = dw.Engine(sub, model=mlp, embedding_layer="2", device="cpu")
    v = eng.train(epochs=1, progress=False)
    panel = SubgroupPanel(eng, v, k=3)
    assert panel.error == "" and panel.summary["k"] == 3  # subgroups need no conv layer
    with pytest.raises(ValueError) as info:
        eng.image_detail(5, v, method="gradcam")
    panel.focus = 5
    assert panel.error == str(info.value) and panel.detail == {}
    panel.close()
