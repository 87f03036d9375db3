"""MosaicView and TraceView share the selection and the focused image with linked views (issue
13): ``dw.link`` links ``focus`` as well as ``selection``, so a point clicked in the trace is the
image the gallery and the mosaic mark, and the compare views keep their own versions."""

from __future__ import annotations

import pytest

import dashwidgets as dw


@pytest.fixture
def eng(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    e.train(epochs=1, progress=False)
    e.train(epochs=1, progress=False)
    return e


def _pairs(links):
    return {(lk.source[0], lk.source[1], lk.target[0], lk.target[1]) for lk in links}


def test_link_shares_selection_and_focus_with_the_compare_views(eng):
    mosaic, trace, gal = dw.MosaicView(eng), dw.TraceView(eng), dw.ImageGallery(eng)
    pairs = _pairs(dw.link(mosaic, trace, gal))
    for name in ("selection", "focus"):
        assert (mosaic, name, trace, name) in pairs
        assert (mosaic, name, gal, name) in pairs
    # the compare views show several versions: only the gallery would follow one
    assert not any(name == "version" for _, name, _, _ in pairs)
    # only the traits asked for are linked
    only = _pairs(dw.link(mosaic, gal, traits=("selection",)))
    assert {name for _, name, _, _ in only} == {"selection"}


def test_focus_is_validated_like_the_selection(eng):
    trace = dw.TraceView(eng)
    trace.focus = int(trace.trace().indices[0])
    with pytest.raises(Exception, match="out of range"):
        trace.focus = len(eng.dataset.labels) + 5
