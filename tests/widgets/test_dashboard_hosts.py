"""Dashboard outside the ipywidgets tabs: in marimo (``_display_`` / ``.marimo()``: marimo tabs of
``mo.ui.anywidget`` views, lazily built, linked in the kernel because marimo has no jslink), and
its side-by-side, resizable row (the projection beside the gallery)."""

from __future__ import annotations

import numpy as np
import pytest

import dashwidgets as dw
from dashwidgets.widgets.dashboard import SIDE_BY_SIDE, Dashboard
from dashwidgets.widgets.link import connect, connect_in_python

mo = pytest.importorskip("marimo")


@pytest.fixture(scope="module")
def eng(small_ds):
    e = dw.Engine(small_ds.subset(np.r_[0:160, 600:660, 750:830]), device="cpu")
    e.train(epochs=1, progress=False)
    return e


def _pairs(links):
    return {(type(lk.source[0]).__name__, lk.source[1], type(lk.target[0]).__name__, lk.target[1]) for lk in links}


def test_python_links_follow_the_jslink_rule_and_carry_changes_in_the_kernel(eng):
    proj, gal, grid = dw.ProjectionView(eng), dw.ImageGallery(eng), dw.AttributionGrid(eng)
    js = connect([proj], [gal, grid])
    py = connect_in_python([proj], [gal, grid])
    assert _pairs(js) == _pairs(py) and ("ProjectionView", "selection", "ImageGallery", "selection") in _pairs(py)
    gal.selection = [2, 4, 9]  # as a lasso arriving from a front end would
    assert proj.selection == [2, 4, 9] == grid.selection
    grid.focus = 9
    assert proj.focus == gal.focus == 9
    for lk in py:
        lk.unlink()
    gal.selection = [1]
    assert proj.selection == [2, 4, 9], "unlinked: the kernel no longer propagates"


def test_marimo_layout_links_in_python_and_builds_tabs_lazily(eng, monkeypatch):
    monkeypatch.setattr(eng, "region_classifier_async", lambda *a, **k: (_ for _ in ()).throw(ValueError("refused")))
    d = Dashboard(eng)
    assert d.python_links == []  # Jupyter: the browser's jslinks do the linking
    layout = d.marimo()
    assert isinstance(layout, mo.Html)
    text = layout.text
    for title in ("Audit", "Compare", "Fix", "Neurons", "Regions &amp;amp; criticism"):
        assert title in text
    assert text.count("marimo-anywidget") >= 3  # the Audit tab's three views, shown now
    assert d.built == ["Audit"], "the other tabs wait for their first showing (mo.lazy)"
    assert _pairs(d.python_links) == _pairs(d.links)
    d.views["gallery"].selection = [5, 6]
    assert d.views["projection"].selection == [5, 6] == d.views["attribution"].selection
    # opening a tab (what mo.lazy does when it is first shown) builds and links its views in Python
    fix = d._marimo_panel(2)
    assert d.built == ["Audit", "Fix"] and isinstance(fix, mo.Html) and "marimo-anywidget" in fix.text
    assert d.views["clusters"].selection == [5, 6]
    d.views["clusters"].selection = [7]
    assert d.views["projection"].selection == [7]
    assert _pairs(d.python_links) == _pairs(d.links)
    # shown twice, a view keeps one marimo element (its front end stays the same)
    assert d._marimo_panel(2).text == fix.text
    # a marimo cell ending in the dashboard shows the same layout
    assert isinstance(d._display_(), mo.Html)
    assert len(d.python_links) == len(d.links), "showing it again links nothing twice"


def test_untrained_engine_in_marimo_says_why_as_text(small_ds):
    e = dw.Engine(small_ds.subset(np.r_[0:60]), device="cpu")
    d = Dashboard(e)
    text = d.marimo().text
    assert "no trained version yet" in text
    assert text.count("dw-dashboard-note") == 3 and "<b>" not in text


def test_side_by_side_row_is_resizable(eng):
    d = Dashboard(eng)
    left, right = SIDE_BY_SIDE["Audit"]
    box = d.tabs.children[0]
    assert "dw-dashboard-panel" in box._dom_classes and box.layout.flex_flow == "row wrap"
    views = dict(zip(["projection", "gallery", "attribution"], box.children, strict=True))
    assert views[left] is d.views["projection"] and "dw-dashboard-resizable" in views[left]._dom_classes
    assert views[left].layout.flex == "0 0 auto" and views[left].layout.width.endswith("%")
    assert views[right].layout.flex.startswith("1 1") and "dw-dashboard-resizable" not in views[right]._dom_classes
    assert views["attribution"].layout.flex == "1 1 100%"  # a row of its own
    # the CSS that makes the corner draggable ships with the dashboard (static text, no data)
    assert any("resize: horizontal" in getattr(c, "value", "") for c in d.children)
