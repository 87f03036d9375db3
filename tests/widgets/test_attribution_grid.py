"""AttributionGrid from Python: what it sends, caching, validation, errors in the view."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import dashwidgets as dw
from dashwidgets.widgets._atlas import heat_thumbnails


def test_grid_sends_the_engines_maps_and_scores(trained):
    eng, v = trained
    grid = dw.AttributionGrid(eng, v, page_size=5)
    assert grid.items == [] and grid.rendered == "gradcam||pred"
    sel = [7, 3, 40, 41, 42, 43, 44]
    grid.selection = sel
    assert grid.total == 7 and [it["index"] for it in grid.items] == [3, 7, 40, 41, 42]
    rows = np.array([3, 7, 40, 41, 42])
    maps = eng.attribute(v, rows, "gradcam", numpy=True)
    np.testing.assert_array_equal(grid.heat, heat_thumbnails(maps, grid.cell))
    heat = grid.heat
    assert heat.shape == (5, grid.cell, grid.cell) and heat.dtype == np.uint8
    assert heat.max() == 255  # scaled per image
    scores = eng.attribution_scores(v, rows, "gradcam")
    assert grid.items[2]["rma_bias"] == pytest.approx(scores["rma_bias"].iloc[2], abs=1e-4)
    assert set(grid.items[0]) >= {"label", "pred", "confidence", "correct", "rra_object"}
    assert grid.layers == dw.models.conv_layers(eng.model(v)) and grid.progress == 1.0
    grid.page = 1
    assert [it["index"] for it in grid.items] == [43, 44]


def test_switching_method_recomputes_once_and_back_uses_the_cache(trained):
    eng, v = trained
    grid = dw.AttributionGrid(eng, v, chunk=2)
    grid.selection = [10, 11, 12]
    first = grid.heat
    grid.method = "ig"
    assert grid.rendered == "ig||pred" and not np.array_equal(grid.heat, first)
    n_cached = len(eng.caches["attribution"])
    grid.method = "gradcam"
    assert np.array_equal(grid.heat, first) and len(eng.caches["attribution"]) == n_cached  # nothing recomputed
    grid.layer = grid.layers[0]
    assert grid.rendered == f"gradcam|{grid.layers[0]}|pred" and not np.array_equal(grid.heat, first)
    grid.target = "label"
    assert grid.rendered.endswith("|label")


def test_bad_values_are_refused_and_shown(trained):
    eng, v = trained
    grid = dw.AttributionGrid(eng, v)
    for name, value, msg in [
        ("method", "lime", "unknown attribution method 'lime'"),
        ("layer", "nope", "no conv layer 'nope'"),
        ("colormap", "rainbow", "unknown colormap 'rainbow'"),
        ("opacity", 1.5, "opacity must be between 0 and 1"),
        ("target", "other", "target must be one of"),
        ("selection", [10**6], "out of range"),
    ]:
        with pytest.raises(traitlets.TraitError, match=msg):
            setattr(grid, name, value)
        assert msg.split("'")[0] in grid.error
    with pytest.raises(TypeError, match="unexpected keyword"):
        dw.AttributionGrid(eng, v, methd="ig")


def test_an_engine_error_is_shown_not_raised(trained, monkeypatch):
    eng, v = trained
    grid = dw.AttributionGrid(eng, v)

    def boom(*a, **k):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(eng, "attribute", boom)
    grid.selection = [1, 2]
    assert "CUDA out of memory" in grid.error and grid.progress == 1.0
