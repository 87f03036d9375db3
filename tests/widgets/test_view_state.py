"""Views from Python: what they send to the browser, validation, linking (browser tests drive them)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import traitlets
from PIL import Image

import dashwidgets as dw


@pytest.fixture(scope="module")
def engine2(small_ds):
    sub = small_ds.subset(np.r_[0:200, 600:660, 750:850])
    eng = dw.Engine(sub)
    v1 = eng.train(epochs=2, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    return eng, v1, v2


def test_projection_sends_binary_buffers_matching_the_engine(engine2):
    eng, v1, _ = engine2
    view = dw.ProjectionView(eng, v1)
    n = len(eng.dataset)
    xy = np.frombuffer(view.xy, dtype=np.float32).reshape(n, 2)
    np.testing.assert_array_equal(xy, eng.project(v1, progress=False))
    ev = eng.evaluate(v1)
    np.testing.assert_array_equal(np.frombuffer(view.pred, np.uint16), ev.pred)
    np.testing.assert_array_equal(np.frombuffer(view.label, np.uint16), eng.dataset.labels)
    np.testing.assert_array_equal(np.frombuffer(view.correct, np.uint8).astype(bool), ev.correct)
    np.testing.assert_allclose(np.frombuffer(view.loss, np.float32), ev.loss)
    codes = np.frombuffer(view.split_code, np.uint8)
    assert (np.asarray(["train", "val", "test"])[codes] == eng.dataset.split).all()
    assert np.frombuffer(view.aligned, np.uint8).sum() == eng.dataset.attributes["aligned"].sum()
    dens = np.frombuffer(view.density, np.float32).reshape(3, view.density_size, view.density_size)
    assert dens.max() == pytest.approx(1.0) and len(view.density_box) == 4
    assert view.classes == eng.classes and view.version == v1.id
    assert "aligned" in view.color_options


def test_projection_defaults_to_the_latest_version_and_switches(engine2):
    eng, v1, v2 = engine2
    view = dw.ProjectionView(eng)
    assert view.version == v2.id
    view.version = v1.id
    np.testing.assert_array_equal(view.coordinates(), eng.project(v1, progress=False))
    with pytest.raises(traitlets.TraitError, match="unknown version 'v9'"):
        view.version = "v9"
    assert "unknown version" in view.error


def test_selection_validation_and_errors_are_shown(engine2):
    eng, v1, _ = engine2
    view = dw.ProjectionView(eng, v1)
    view.selection = [5, 3, 3]
    assert view.selection == [3, 5]
    with pytest.raises(traitlets.TraitError, match=r"selection indices out of range \[0, 360\): \[360, -1\]"):
        view.selection = [1, 360, -1]
    assert "out of range" in view.error
    assert view.selection == [3, 5]  # nothing half-applied
    view.selection = []
    assert view.selection == []
    with pytest.raises(traitlets.TraitError, match="must be image indices"):
        view.selection = [1.5, 2.0]
    with pytest.raises(traitlets.TraitError, match="must be image indices"):
        view.selection = [True, False]
    view.selection = np.arange(300, 0, -1)  # numpy in, sorted plain ints out
    assert view.selection[:3] == [1, 2, 3] and type(view.selection[0]) is int


def test_color_by_checks_the_dataset_has_the_attribute(engine2):
    eng, v1, _ = engine2
    plain = dw.datasets.from_tensors(eng.dataset.images, eng.dataset.labels, split=eng.dataset.split)
    eng_plain = dw.Engine(plain)
    vp = eng_plain.train(epochs=1, progress=False)
    view = dw.ProjectionView(eng_plain, vp)
    assert "aligned" not in view.color_options and view.aligned.size == 0
    with pytest.raises(traitlets.TraitError, match="needs an 'aligned' attribute"):
        view.color_by = "aligned"
    assert "aligned" in view.error
    with pytest.raises(traitlets.TraitError, match="unknown color_by 'shape'"):
        view.color_by = "shape"
    view.color_by = "loss"
    assert view.color_by == "loss"


def test_constructor_errors(engine2, small_ds):
    eng, v1, _ = engine2
    with pytest.raises(TypeError, match="unexpected keyword argument.*'colour_by'"):
        dw.ProjectionView(eng, v1, colour_by="class")
    with pytest.raises(TypeError, match="Engine"):
        dw.ProjectionView("not an engine")
    with pytest.raises(ValueError, match="no trained version yet"):
        dw.ProjectionView(dw.Engine(small_ds))
    with pytest.raises(ValueError, match="unknown projection mode"):
        dw.ProjectionView(eng, v1, mode="pca")


def test_version_from_a_failed_job(small_ds):
    from torch import nn

    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.head = nn.Linear(4, 10)

        def forward(self, x):
            if self.training:
                raise RuntimeError("exploded")
            return self.head(self.conv(x).mean(dim=(2, 3)))

    eng = dw.Engine(small_ds, model=Broken())
    job = eng.train_async(epochs=1)
    job.wait(60)
    with pytest.raises(ValueError, match="failed to train: RuntimeError: exploded"):
        dw.ProjectionView(eng, job)
    cancelled = eng.train_async(epochs=1)
    cancelled.cancel()
    cancelled.wait(60)
    with pytest.raises(ValueError, match="(cancelled|failed to train)"):
        dw.ImageGallery(eng, cancelled)


def test_thumbnail_requests_are_answered_with_a_png_atlas(engine2):
    eng, v1, _ = engine2
    view = dw.ProjectionView(eng, v1)
    sent = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))
    view._on_custom_msg(view, {"type": "thumbs", "id": 7, "indices": [4, 9, 11]}, [])
    content, buffers = sent[0]
    assert content["id"] == 7 and content["indices"] == [4, 9, 11] and content["cols"] == 2
    img = np.asarray(Image.open(io.BytesIO(buffers[0])))
    s = content["size"]
    cell = img[s : 2 * s, 0:s]  # third thumbnail: row 1, column 0
    np.testing.assert_array_equal(cell, eng.dataset.images[11].transpose(1, 2, 0))
    view._on_custom_msg(view, {"type": "thumbs", "id": 8, "indices": [10_000]}, [])
    assert "out of range" in view.error and len(sent) == 1


def test_gallery_pages_sorts_and_shows_text(engine2):
    eng, v1, _ = engine2
    g = dw.ImageGallery(eng, v1, page_size=4)
    assert g.items == [] and g.total == 0
    ev = eng.evaluate(v1)
    sel = [10, 3, 50, 7, 22, 90]
    g.selection = sel
    assert g.total == 6 and [it["index"] for it in g.items] == [3, 7, 10, 22]
    it = g.items[0]
    assert it["label"] == eng.classes[ev.labels[3]] and it["pred"] == eng.classes[ev.pred[3]]
    assert it["confidence"] == pytest.approx(ev.confidence[3], abs=1e-4)
    g.page = 1
    assert [it["index"] for it in g.items] == [50, 90]
    g.sort_by = "loss"
    assert g.page == 0
    expected = np.asarray(sorted(sel, key=lambda i: ev.loss[i]))
    np.testing.assert_array_equal(g.ordered(), expected)
    g.descending = True
    np.testing.assert_array_equal(g.ordered(), expected[::-1])
    atlas = np.asarray(Image.open(io.BytesIO(g.atlas)))
    assert atlas.shape[0] >= g.cell and atlas.shape[1] == g.cell * g.atlas_cols
    with pytest.raises(traitlets.TraitError, match="unknown sort_by"):
        g.sort_by = "name"
    with pytest.raises(traitlets.TraitError, match="out of range"):
        g.focus = 99999
    g.page = 99  # clamped to the last page
    assert g.page == 1


def test_link_shares_selection_and_version(engine2):
    eng, v1, _ = engine2
    p, g = dw.ProjectionView(eng, v1), dw.ImageGallery(eng, v1)
    links = dw.link(p, g)
    assert {(lk.source[1], lk.target[1]) for lk in links} == {("selection", "selection"), ("focus", "focus"), ("version", "version")}
    with pytest.raises(ValueError, match="at least two"):
        dw.link(p)
    with pytest.raises(TypeError, match="only link widgets"):
        dw.link(p, 3)


def _synced_bytes(view) -> int:
    """Bytes a view's state takes on the wire: its binary buffers plus the JSON of the rest (what
    ipywidgets sends when the view is displayed)."""
    import json

    from ipywidgets.widgets.widget import _remove_buffers

    state, _, buffers = _remove_buffers(view.get_state())
    return sum(memoryview(b).nbytes for b in buffers) + len(json.dumps(state))


def test_state_for_100k_points_stays_under_3_mb(engine2, small_ds):
    """Two real ProjectionViews of different sizes give the state's fixed part and its bytes per
    point; extrapolated to 100,000 points it must stay under 3 MB (the DESIGN's smooth-at-100k
    goal: xy, label, pred, correct, split, aligned, loss, confidence ~23 bytes a point)."""
    eng, v1, _ = engine2
    small = _synced_bytes(dw.ProjectionView(eng, v1))
    big_set = small_ds.subset(np.r_[0:400, 600:700, 750:970])  # 720 images, twice engine2's
    big_eng = dw.Engine(big_set)
    big = _synced_bytes(dw.ProjectionView(big_eng, big_eng.train(epochs=1, progress=False)))
    n_small, n_big = len(eng.dataset), len(big_set)
    per_point = (big - small) / (n_big - n_small)
    assert 10 < per_point < 30, per_point  # binary buffers, not JSON lists (~10x more)
    at_100k = small + per_point * (100_000 - n_small)
    assert at_100k < 3 * 1024 * 1024, (per_point, at_100k)


def test_no_view_shadows_a_trait_name_ipywidgets_reserves():
    """ipywidgets' front end treats ``style`` and ``layout`` as references to Style/Layout models;
    a view that syncs its own ``style`` breaks rendering (seen: 'Cannot read properties of
    undefined (reading then)' in create_view)."""
    import ipywidgets

    from dashwidgets import widgets

    reserved = set(ipywidgets.DOMWidget.class_trait_names(sync=lambda v: v)) | {"style"}
    for name in widgets.__all__:
        cls = getattr(widgets, name)
        if not isinstance(cls, type):
            continue
        own = set(cls.class_trait_names(sync=lambda v: v)) - set(ipywidgets.DOMWidget.class_trait_names(sync=lambda v: v))
        assert not own & reserved, (name, own & reserved)
