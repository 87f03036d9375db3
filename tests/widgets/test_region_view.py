"""RegionView from Python: its maps, images and reliability diagram are the region classifier's,
selection and focus choose the images, the background job trains (and cancels), mitigation makes
an augmentation from train images only, and bad input is an error in Python and in the view."""

from __future__ import annotations

import io

import numpy as np
import pytest
import traitlets
from PIL import Image

import dashwidgets as dw
from dashwidgets.augment.classical import top_regions
from dashwidgets.widgets.regions import DEFAULT_IMAGES, RegionView


@pytest.fixture(scope="module")
def ds():
    return dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=240, n_val=60, n_test=40)


@pytest.fixture(scope="module")
def eng(ds):
    return dw.Engine(ds, device="cpu")


@pytest.fixture(scope="module")
def rc(eng):
    return eng.region_classifier(epochs=1, progress=False)


def _atlas_cells(view) -> np.ndarray:
    """The atlas's cells as ``[N, cell, cell, 3]`` uint8."""
    sheet = np.asarray(Image.open(io.BytesIO(view.atlas)).convert("RGB"))
    c, cols = view.cell, view.atlas_cols
    return np.stack([sheet[(k // cols) * c:(k // cols + 1) * c, (k % cols) * c:(k % cols + 1) * c] for k in range(len(view.shown))])


def test_payload_is_the_classifiers_maps_images_and_reliability(eng, ds, rc):
    view = RegionView(eng, rc)
    assert view.state == "done" and view.error == ""
    idx = ds.indices("val")[:DEFAULT_IMAGES].tolist()
    assert view.selection == idx and [s["index"] for s in view.shown] == idx
    np.testing.assert_array_equal(view.pixel_maps, rc.maps(idx))
    np.testing.assert_array_equal(view.region_maps, rc.region_maps(idx))
    assert view.region_maps.shape == (len(idx), 9, 9) and view.pixel_maps.shape == (len(idx), 32, 32)
    # the atlas holds the images themselves, at full resolution (the maps align pixel for pixel)
    assert view.cell == 32
    np.testing.assert_array_equal(_atlas_cells(view), ds.images[idx].transpose(0, 2, 3, 1))
    assert [s["label"] for s in view.shown] == [eng.classes[ds.labels[i]] for i in idx]
    assert [s["target"] for s in view.shown] == [str(ds.attributes["bias_class"][i]) for i in idx]
    assert {s["split"] for s in view.shown} == {"val"}
    c = view.classifier
    assert (c["key"], c["attribute"], c["patch"], c["positions"], c["grid"]) == (rc.key, "bias_class", 8, 81, 9)
    table = rc.reliability("val", 20)
    assert [b["count"] for b in view.reliability] == table["count"].tolist()
    np.testing.assert_allclose([b["share"] for b in view.reliability], table["share"], atol=1e-6)
    full = table["count"] > 0
    np.testing.assert_allclose([b["accuracy"] for b in view.reliability if b["count"]], table.loc[full, "accuracy"], atol=1e-6)
    assert all(b["accuracy"] is None for b in view.reliability if not b["count"])  # JSON has no NaN
    assert view.ece == pytest.approx(rc.ece("val", 20))
    view.bins = 10
    assert len(view.reliability) == 10 and view.ece == pytest.approx(rc.ece("val", 10))
    assert view.rendered == f"{rc.key}|{','.join(map(str, idx))}|specific"


def test_selection_focus_and_map_kind_choose_what_is_sent(eng, ds, rc):
    train = ds.indices("train")
    view = RegionView(eng, rc, images=train[:12], max_images=8)
    assert [s["index"] for s in view.shown] == train[:8].tolist() and view.n_selected == 12
    view.focus = int(train[10])  # not among the first 8: shown too
    assert [s["index"] for s in view.shown] == [*train[:8].tolist(), int(train[10])]
    np.testing.assert_array_equal(view.pixel_maps[-1], rc.maps([train[10]])[0])
    assert view.general_map.size == 0  # computed on first use only
    view.map_kind = "general"
    np.testing.assert_array_equal(view.general_map, rc.general_map("train"))
    assert view.rendered.endswith("|general")
    view.selection = []
    assert [s["index"] for s in view.shown] == [int(train[10])]  # the focus stays shown
    view.focus = -1
    assert view.shown == [] and view.pixel_maps.shape[0] == 0


def test_linked_by_selection_and_focus(eng, ds, rc):
    a, b = RegionView(eng, rc), RegionView(eng, rc)
    links = dw.link(a, b)
    assert {tuple(sorted(n for n in (link.source[1], link.target[1]))) for link in links} >= {("selection", "selection"), ("focus", "focus")}


def test_background_training_then_cancel(eng, rc):
    view = RegionView(eng, epochs=1)  # same spec as the fixture's: the engine's cached classifier
    assert view.wait(120) and view.state == "done"
    assert view.rc is rc and view.classifier["key"] == rc.key
    slow = RegionView(eng, attribute="label", epochs=50)
    assert slow.state == "running" and slow.classifier == {} and slow.shown == []
    slow.cancel()
    assert slow.wait(120) and slow.state == "cancelled" and slow.rc is None


def test_bad_input_is_an_error_in_python_and_in_the_view(eng, rc):
    view = RegionView(eng, rc)
    with pytest.raises(traitlets.TraitError, match="strictly between 0 and 1, got 1.5"):
        view.quantile = 1.5
    assert "strictly between 0 and 1, got 1.5" in view.error and view.quantile == 0.7
    with pytest.raises(traitlets.TraitError, match="unknown map kind 'mean'"):
        view.map_kind = "mean"
    with pytest.raises(ValueError, match="larger than the image"):
        view.train(patch=100)
    assert "patch 100 px is larger than the image (32 px)" in view.error
    assert view.rc is rc and view.state == "done" and view.shown  # the classifier shown stays
    with pytest.raises(ValueError, match="square number"):
        view.train(positions=10)
    assert "square number" in view.error
    # the constructor shows the engine's refusal instead of raising (it can be fixed in the view)
    for kwargs, msg in (({"attribute": "colour"}, "unknown attribute 'colour'"), ({"patch": 40}, "larger than the image"),
                        ({"quantile": 0.0}, "strictly between 0 and 1, got 0.0")):
        bad = RegionView(eng, **kwargs, epochs=1)
        assert msg in bad.error, (kwargs, bad.error)
    assert RegionView(eng, attribute="colour").state == "failed"
    with pytest.raises(TypeError, match="unexpected keyword"):
        RegionView(eng, rc, quantil=0.5)


def test_an_attribute_with_one_value_is_refused():
    ds = dw.datasets.load("patch-digits", bias=1.0, seed=0, n_train=60, n_val=20, n_test=20)  # all aligned
    view = RegionView(dw.Engine(ds, device="cpu"), attribute="aligned", epochs=1)
    assert view.state == "failed" and "has 1 value(s) on the train split" in view.error


def test_mitigate_makes_an_augmentation_from_train_images_only(eng, ds, rc):
    view = RegionView(eng, rc)  # the default selection: val images
    with pytest.raises(ValueError, match="val split"):
        view.mitigate()
    assert "val split" in view.error and view.augmentation == ""
    train = ds.indices("train")[:4]
    view.selection, view.quantile, view.method = train, 0.8, "mask"
    aug = view.mitigate()
    assert view.augmentation == aug.id and view.error == ""
    assert aug.params["quantile"] == 0.8 and aug.params["map"] == "specific" and aug.params["region_classifier"] == rc.key
    assert len(aug.images) == len(train)
    # exactly the pixels above each map's 0.8 quantile are greyed, the rest are the source's
    changed = top_regions(rc.maps(train), 0.8)
    assert 0.1 < changed.mean() < 0.3
    src = ds.images[train]
    assert (aug.images.transpose(1, 0, 2, 3)[:, changed] == aug.images[0, 0][changed[0]][0]).all()
    np.testing.assert_array_equal(aug.images.transpose(1, 0, 2, 3)[:, ~changed], src.transpose(1, 0, 2, 3)[:, ~changed])
