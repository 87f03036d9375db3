"""ConceptWindow from Python: what it sends matches Engine.concepts / neuron_scores, it recomputes
when the neuron, subgroup or version changes, and bad input is shown in the view."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image
from torch import nn

import dashwidgets as dw
from dashwidgets.widgets._atlas import atlas_png
from dashwidgets.widgets.concepts import ConceptWindow


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def trained(small_ds):
    """This module's own engine with two 1-epoch versions (the tests switch versions, which must
    not move the session engine's active version): (engine, first version)."""
    eng = dw.Engine(small_ds, device="cpu")
    v = eng.train(epochs=1, progress=False)
    eng.train(epochs=1, progress=False)
    return eng, v


@pytest.fixture(scope="module")
def layer(trained):
    eng, v = trained
    return dw.models.conv_layers(eng.model(v))[-1]


def test_payload_is_the_engines_concepts(trained, layer):
    eng, v = trained
    cw = ConceptWindow(eng, v)
    assert cw.shown == {} and cw.images == [] and cw.patches == [] and cw.error == ""
    cw.neuron = {"layer": layer, "neuron": 5}
    cc = eng.concepts(v, layer, 5)
    assert cw.error == "" and not cw.computing and cw.rendered == f"{v.id}|{layer}|5|-1"
    assert cw.shown["layer"] == layer and cw.shown["neuron"] == 5
    assert cw.shown["channels"] == eng.model(v).get_submodule(layer).out_channels
    assert cw.shown["patch_side"] == cc.patches.shape[-1] and cw.shown["image_size"] == [32, 32]
    assert [it["index"] for it in cw.images] == cc.images.tolist()
    np.testing.assert_allclose([it["activation"] for it in cw.images], cc.image_activations, atol=1e-4)
    assert [it["label"] for it in cw.images] == [eng.classes[eng.dataset.labels[i]] for i in cc.images]
    assert [p["source"] for p in cw.patches] == cc.sources.tolist()
    assert [p["box"] for p in cw.patches] == cc.boxes.tolist()
    np.testing.assert_allclose([p["activation"] for p in cw.patches], cc.activations, atol=1e-4)
    # the atlases hold the patches at their own size (crisp upscaling is the browser's) and the images
    side, cols = cw.shown["patch_side"], cw.patch_cols
    sheet = _png(cw.patch_atlas)
    for k, patch in enumerate(cc.patches):
        r, c = divmod(k, cols)
        np.testing.assert_array_equal(sheet[r * side : (r + 1) * side, c * side : (c + 1) * side], patch.transpose(1, 2, 0))
    assert cw.image_atlas == atlas_png(eng.dataset.images[cc.images], cw.cell)[0]
    # each top image carries the box of its best patch (patches come best first), in cell fractions
    for it in cw.images:
        rows = np.flatnonzero(cc.sources == it["index"])
        if not len(rows):
            assert it["box"] is None
            continue
        assert it["box"] == pytest.approx((cc.boxes[rows[0]] / 32.0).tolist())
    assert any(it["box"] is not None for it in cw.images)
    assert cw.scores == [] and "pick a subgroup" in cw.scores_note


def test_scores_are_the_engines_for_the_subgroup_and_its_pair(trained, layer, monkeypatch):
    eng, v = trained
    sg = eng.subgroups(v, k=6)
    under = next(i for i in sg.under if sg.pair(i) is not None)
    cw = ConceptWindow(eng, v, k=6, neuron=(layer, 2))
    calls = []
    real = eng.concepts
    monkeypatch.setattr(eng, "concepts", lambda *a, **k: calls.append(a) or real(*a, **k))
    cw.subgroup = under
    assert calls == []  # a subgroup change asks for scores only
    table = eng.neuron_scores(v, {"under": sg.members(under), "well": sg.members(sg.pair(under))}, layers=[layer])
    row = table[table["neuron"] == 2].iloc[0]
    assert [s["group"] for s in cw.scores] == ["under", "well"] and cw.scores_note == ""
    assert [s["subgroup"] for s in cw.scores] == [under, sg.pair(under)]
    assert cw.scores[0]["score"] == pytest.approx(row["under"], abs=1e-4)
    assert cw.scores[1]["score"] == pytest.approx(row["well"], abs=1e-4)
    assert cw.scores[0]["under"] and not cw.scores[1]["under"]
    assert cw.scores[0]["size"] == len(sg.members(under))
    assert cw.scores[1]["accuracy"] == pytest.approx(sg.table.at[sg.pair(under), "accuracy"], abs=1e-4)
    assert cw.rendered.endswith(f"|{under}")
    # a well-performing subgroup has no pair: one score and a note saying so
    well = next(i for i in range(sg.k) if not sg.table.at[i, "under"])
    cw.subgroup = well
    assert len(cw.scores) == 1 and cw.scores[0]["subgroup"] == well and "performs well" in cw.scores_note
    cw.subgroup = -1
    assert cw.scores == [] and "pick a subgroup" in cw.scores_note


def test_a_new_neuron_or_version_recomputes(trained, layer, monkeypatch):
    eng, v = trained
    cw = ConceptWindow(eng, v)
    seen = []
    real = eng.concepts

    def spy(version, lay, n, *a, **k):
        seen.append((version, lay, n, cw.computing))  # "computing concepts…" is up meanwhile
        return real(version, lay, n, *a, **k)

    monkeypatch.setattr(eng, "concepts", spy)
    cw.neuron = {"layer": layer, "neuron": 1}
    first = [p["source"] for p in cw.patches], cw.patch_atlas
    cw.neuron = {"layer": layer, "neuron": 7}
    assert seen == [(v.id, layer, 1, True), (v.id, layer, 7, True)] and not cw.computing
    assert cw.shown["neuron"] == 7 and cw.rendered == f"{v.id}|{layer}|7|-1"
    assert ([p["source"] for p in cw.patches], cw.patch_atlas) != first
    assert [it["index"] for it in cw.images] == real(v, layer, 7).images.tolist()
    v2 = eng.versions[-1]
    cw.version = v2.id
    assert seen[-1][:3] == (v2.id, layer, 7) and cw.shown["version"] == v2.id
    assert [it["index"] for it in cw.images] == real(v2, layer, 7).images.tolist()
    cw.neuron = {}
    assert cw.shown == {} and cw.patches == [] and cw.images == [] and len(seen) == 3


def test_clicking_sets_focus_to_a_dataset_index(trained, layer):
    eng, v = trained
    cw = ConceptWindow(eng, v, neuron={"layer": layer, "neuron": 0})
    cw.focus = cw.patches[0]["source"]
    assert cw.focus == cw.patches[0]["source"]
    with pytest.raises(traitlets.TraitError, match="out of range"):
        cw.focus = len(eng.dataset)


@pytest.mark.parametrize(
    "neuron, match",
    [
        ({"layer": "nope", "neuron": 0}, "layer 'nope' is not a conv layer"),
        ({"layer": "LAYER", "neuron": 10**4}, "neuron 10000 out of range for layer"),
        ({"layer": "LAYER", "neuron": -1}, "neuron -1 out of range"),
    ],
)
def test_engine_errors_are_shown_not_raised(trained, layer, neuron, match):
    eng, v = trained
    cw = ConceptWindow(eng, v, neuron={"layer": layer, "neuron": 3})
    assert cw.patches
    cw.neuron = {**neuron, "layer": layer if neuron["layer"] == "LAYER" else neuron["layer"]}
    assert match in cw.error and not cw.computing
    assert cw.shown == {} and cw.patches == [] and cw.patch_atlas == b""  # nothing stale under the new request
    cw.neuron = {"layer": layer, "neuron": 3}
    assert cw.error == "" and cw.patches


def test_bad_values_are_refused(trained, layer):
    eng, v = trained
    cw = ConceptWindow(eng, v, neuron=(layer, 0))
    for value in ({"layer": layer}, {"layer": 3, "neuron": 0}, {"layer": layer, "neuron": True}, {"layer": layer, "neuron": 1.5}):
        with pytest.raises(traitlets.TraitError, match="neuron must be"):
            cw.neuron = value
        assert "neuron must be" in cw.error
    assert cw.neuron == {"layer": layer, "neuron": 0}
    with pytest.raises(traitlets.TraitError, match="subgroup must be"):
        cw.subgroup = -2
    cw.subgroup = 10**4  # ids are checked against the subgroups when they are asked for
    assert "subgroup 10000 out of range" in cw.error and cw.scores == []
    with pytest.raises(TypeError, match="unexpected keyword"):
        ConceptWindow(eng, v, nueron=(layer, 0))
    with pytest.raises(ValueError, match="unknown clustering method"):
        ConceptWindow(eng, v, method="dbscan")
    with pytest.raises(ValueError, match="unknown split"):
        ConceptWindow(eng, v, split="nope")


def test_a_model_without_conv_layers_is_named_in_the_view(small_ds):
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, small_ds.num_classes))
    torch.manual_seed(0)
    eng = dw.Engine(small_ds, model=model, device="cpu", embedding_layer="0")
    v = eng.train(epochs=1, progress=False)
    cw = ConceptWindow(eng, v)
    assert "Sequential has no Conv2d layer" in cw.error
    cw.neuron = {"layer": "1", "neuron": 0}
    assert "Sequential has no Conv2d layer" in cw.error and cw.patches == []
