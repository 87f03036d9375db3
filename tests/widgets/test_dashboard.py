"""Dashboard from Python: one tab per task, a tab's views built only when it is first shown (the
region classifier is not trained before its tab opens), each new view jslinked to the views
already built (selection, focus, version, subgroup, neuron; the board's pair drives the mosaic),
the active version by default or a pinned one, and an untrained engine's message in the
dashboard instead of a traceback."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest

import dashwidgets as dw
from dashwidgets.widgets.dashboard import PANELS, Dashboard, _message
from dashwidgets.widgets.link import connect

TITLES = ["Audit", "Compare", "Fix", "Neurons", "Regions & criticism", "Report"]


@pytest.fixture(scope="module")
def ds(small_ds):
    return small_ds.subset(np.r_[0:160, 600:660, 750:830])


@pytest.fixture(scope="module")
def two(ds):
    """An engine with two 1-epoch versions: (engine, v1, v2)."""
    eng = dw.Engine(ds, device="cpu")
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    return eng, v1, v2


def _pairs(links):
    return {(type(lk.source[0]).__name__, lk.source[1], type(lk.target[0]).__name__, lk.target[1]) for lk in links}


def _no_region_training(eng, monkeypatch):
    """Record calls of the engine's region-classifier training, refusing them (no job starts)."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise ValueError("region training refused by the test")

    monkeypatch.setattr(eng, "region_classifier_async", refuse)
    return calls


def test_tabs_and_lazy_building(two, monkeypatch):
    eng, v1, v2 = two
    calls = _no_region_training(eng, monkeypatch)
    d = Dashboard(eng)
    assert isinstance(d, ipywidgets.VBox) and isinstance(d.tabs, ipywidgets.Tab)
    assert list(d.tabs.titles) == TITLES == [t for t, _ in PANELS]
    # only the Audit tab is built at first
    assert d.built == ["Audit"] and d.tabs.selected_index == 0
    assert list(d.views) == ["projection", "gallery", "attribution"]
    assert [type(v).__name__ for v in d.tabs.children[0].children] == ["ProjectionView", "ImageGallery", "AttributionGrid"]
    assert all(box.children == () for box in d.tabs.children[1:])
    assert calls == []  # no region classifier before its tab is shown
    # showing a tab (what a click in the browser does) builds its views, once
    d.tabs.selected_index = TITLES.index("Neurons")
    assert d.built == ["Audit", "Neurons"]
    assert [type(v).__name__ for v in d.tabs.children[3].children] == ["SubgroupPanel", "NeuronPanel", "ConceptWindow"]
    panel = d.views["subgroups"]
    d.tabs.selected_index = 0
    d.tabs.selected_index = TITLES.index("Neurons")
    assert d.views["subgroups"] is panel and d.tabs.children[3].children[0] is panel
    assert calls == []
    d.tabs.selected_index = TITLES.index("Regions & criticism")
    assert len(calls) == 1, "opening the tab starts the region classifier"
    assert "region training refused by the test" in d.views["regions"].error
    assert [type(v).__name__ for v in d.tabs.children[4].children] == ["RegionView", "CriticismView"]
    with pytest.raises(ValueError, match=r"unknown tab 'Audits'; choose one of \['Audit'"):
        d.build("Audits")
    with pytest.raises(ValueError, match="unknown tab 'nope'"):
        Dashboard(eng, tab="nope")
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['verison'\]"):
        Dashboard(eng, verison="v1")


def test_views_are_linked_as_they_appear(two, monkeypatch):
    eng, v1, v2 = two
    _no_region_training(eng, monkeypatch)
    d = Dashboard(eng, tab="Compare")
    assert d.built == ["Compare"] and list(d.views) == ["board", "mosaic", "trace"]
    assert ("ClassifierBoard", "compare", "MosaicView", "versions") in _pairs(d.links)
    assert ("MosaicView", "selection", "TraceView", "selection") in _pairs(d.links)
    n = len(d.links)
    d.tabs.selected_index = 0
    new = _pairs(d.links[n:])
    # the Audit views join the star around the mosaic (the first view built with a selection);
    # the mosaic and trace show several versions and keep their own
    for view in ("ProjectionView", "ImageGallery", "AttributionGrid"):
        for trait in ("selection", "focus"):
            assert ("MosaicView", trait, view, trait) in new
    assert ("ProjectionView", "version", "ImageGallery", "version") in new
    assert not any(p[1] == "version" and "MosaicView" in p for p in _pairs(d.links))
    for t in TITLES:
        d.build(t)
    pairs = _pairs(d.links)
    assert ("SubgroupPanel", "subgroup", "NeuronPanel", "subgroup") in pairs
    assert ("SubgroupPanel", "subgroup", "ConceptWindow", "subgroup") in pairs
    assert ("NeuronPanel", "neuron", "ConceptWindow", "neuron") in pairs
    assert ("MosaicView", "selection", "RegionView", "selection") in pairs
    assert ("MosaicView", "focus", "CriticismView", "focus") in pairs
    assert ("MosaicView", "focus", "AuditReport", "focus") in pairs  # a clicked evidence image
    # every pair of built views that share a trait is joined once (no duplicate links)
    assert len(pairs) == len(d.links)
    # a new view takes the shared selection at once, as the browser's link will
    d2 = Dashboard(eng, tab="Compare")
    d2.views["mosaic"].selection = [3, 5]
    d2.build("Audit")
    assert d2.views["gallery"].selection == [3, 5] and d2.views["projection"].selection == [3, 5]


def test_link_and_the_dashboard_share_one_rule(two):
    eng, v1, v2 = two
    board, mosaic, gal = dw.ClassifierBoard(eng), dw.MosaicView(eng), dw.ImageGallery(eng)
    by_hand = _pairs(dw.link(board, mosaic, gal))
    in_steps = _pairs(connect([board], [mosaic]) + connect([board, mosaic], [gal]))
    assert by_hand == in_steps
    assert ("ClassifierBoard", "compare", "MosaicView", "versions") in by_hand
    # links among the views already linked are not made again
    assert connect([board, mosaic, gal], []) == []
    with pytest.raises(TypeError, match="can only link widgets, got int"):
        connect([gal], [3])


def test_version_default_and_pinned(two):
    eng, v1, v2 = two
    assert eng.active.id == v2.id
    d = Dashboard(eng)
    assert d.version is None
    assert d.views["projection"].version == d.views["gallery"].version == v2.id
    pinned = Dashboard(eng, version=v1)
    assert pinned.version == v1.id
    assert {pinned.views[k].version for k in ("projection", "gallery", "attribution")} == {v1.id}
    assert Dashboard(eng, version=v1.id).version == v1.id
    with pytest.raises(ValueError, match="nope"):
        Dashboard(eng, version="nope")
    with pytest.raises(TypeError, match="engine must be a dashwidgets Engine, got str"):
        Dashboard("eng")


def test_untrained_engine_shows_a_message_then_the_views(ds):
    eng = dw.Engine(ds, device="cpu")
    d = Dashboard(eng)  # no traceback
    assert d.banner.layout.display != "none" and "no trained version yet" in d.banner.value
    assert d.views == {} and set(d.problems) == {"projection", "gallery", "attribution"}
    notes = [w.value for w in d.tabs.children[0].children]
    assert len(notes) == 3 and all("no trained version yet" in n and "dw-dashboard-note" in n for n in notes)
    # the board still works there: it is how a version gets trained
    d.tabs.selected_index = TITLES.index("Compare")
    assert list(d.views) == ["board"] and {"mosaic", "trace"} <= set(d.problems)
    v = eng.train(epochs=1, progress=False)
    # the new version removes the banner and builds the views that waited for it in the shown tab
    assert d.banner.layout.display == "none"
    assert list(d.views) == ["board", "trace"] and d.views["trace"].versions == [v.id]
    assert "at least two versions" in d.problems["mosaic"]
    d.tabs.selected_index = 0
    assert list(d.views)[-3:] == ["projection", "gallery", "attribution"] and d.views["gallery"].version == v.id
    assert "projection" not in d.problems


def test_messages_are_text_not_html():
    html = _message("class <b>x</b> & co", "note").value
    assert "<b>" not in html and "class &lt;b&gt;x&lt;/b&gt; &amp; co" in html
