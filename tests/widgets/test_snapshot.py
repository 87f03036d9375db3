"""The shared image snapshot: budget honoured, cell choice, one per engine, arrays as the engine says."""

from __future__ import annotations

import io

import numpy as np
import pytest
from ipywidgets import widget_serialization

import dashwidgets as dw
from dashwidgets.widgets import _snapshot
from dashwidgets.widgets._snapshot import (
    ENV,
    ImageSnapshot,
    image_budget,
    plan,
    set_image_budget,
    snapshot_for,
)


@pytest.fixture(autouse=True)
def _default_budget(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    set_image_budget(None)
    yield
    set_image_budget(None)


def _decode(snap: ImageSnapshot) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(snap.atlas)).convert("RGB"))


def test_budget_comes_from_the_setting_then_the_environment_then_the_default(monkeypatch):
    assert image_budget() == _snapshot.DEFAULT_BUDGET_MB
    monkeypatch.setenv(ENV, "2.5")
    assert image_budget() == 2.5
    set_image_budget(7)
    assert image_budget() == 7
    set_image_budget(None)
    assert image_budget() == 2.5
    monkeypatch.setenv(ENV, "lots")
    with pytest.raises(ValueError, match=ENV):
        image_budget()
    with pytest.raises(ValueError, match="megabytes"):
        set_image_budget(-1)


def test_largest_cell_that_fits_then_a_subsample(small_ds):
    images = small_ds.images  # 1000 images, 32 px
    cell, keep = plan(images, 10**9)
    assert cell == 32 and len(keep) == len(images)  # the images' own side when everything fits
    sizes = {}
    for c in (32, 24, 16):
        atlas, _ = _snapshot.encode_atlas(images, c)
        sizes[c] = len(atlas)
    assert sizes[32] > sizes[24] > sizes[16]
    # a budget between the 24 px and 32 px atlases (plus the arrays) picks 24 px
    between = int(sizes[24] * 1.1 + len(images) * 60 + (sizes[32] - sizes[24]) * 0.2)
    assert plan(images, between)[0] == 24
    # too small for every image at the smallest cell: an evenly spaced subsample at 16 px
    cell, keep = plan(images, sizes[16] // 3)
    assert cell == _snapshot.MIN_CELL and 0 < len(keep) < len(images)
    assert np.all(np.diff(keep) > 0) and keep[0] == 0
    assert np.ptp(np.diff(keep)) <= 1  # evenly spaced


@pytest.mark.parametrize("mb", [0.05, 0.2, 1.0])
def test_snapshot_stays_within_its_budget(trained, mb):
    eng, v = trained
    snap = ImageSnapshot(eng, mb)
    snap.add_version(v.id)
    assert snap.nbytes <= mb * 1e6
    assert len(snap.indices) > 0
    sheet = _decode(snap)
    rows = -(-len(snap.indices) // snap.cols)
    assert sheet.shape == (rows * snap.cell, snap.cols * snap.cell, 3)
    snap.close()


def test_atlas_cells_are_the_kept_images(trained):
    eng, _ = trained
    snap = ImageSnapshot(eng, 0.1)  # small: a subsample
    ds = eng.dataset
    assert 0 < len(snap.indices) < len(ds) and snap.n_images == len(ds)
    sheet = _decode(snap).astype(np.float32)
    c, cols = snap.cell, snap.cols
    own = dw.widgets._atlas.thumbnails(ds.images[snap.indices.astype(np.int64)], c).astype(np.float32)
    for k in (0, len(snap.indices) // 2, len(snap.indices) - 1):
        r, col = divmod(k, cols)
        cell = sheet[r * c : (r + 1) * c, col * c : (col + 1) * c]
        err_own = np.abs(cell - own[k]).mean()
        err_next = np.abs(cell - own[(k + 1) % len(own)]).mean()
        assert err_own < err_next  # lossy, but closer to its own image than to the neighbour's
    assert np.array_equal(snap.label, np.asarray(ds.labels)[snap.indices])
    assert np.array_equal(snap.split_code, ds.split_codes()[snap.indices])
    snap.close()


def test_version_arrays_match_evaluate(trained):
    eng, v = trained
    snap = ImageSnapshot(eng, 5)
    snap.add_version(v.id)
    snap.add_version(v.id)  # once
    ev = eng.evaluate(v)
    assert snap.versions == [v.id] and snap.pred.shape == (1, len(eng.dataset))
    assert np.array_equal(snap.pred[0], ev.pred)
    assert np.array_equal(snap.correct[0], ev.correct.astype(np.uint8))
    assert np.allclose(snap.confidence[0], ev.confidence)
    assert np.allclose(snap.loss[0], ev.loss)
    snap.close()


def test_one_snapshot_per_engine_shared_by_its_views(trained, monkeypatch):
    eng, v = trained
    proj = dw.ProjectionView(eng, v)
    gal = dw.ImageGallery(eng, v)
    assert proj.snapshot is gal.snapshot is snapshot_for(eng)
    assert v.id in gal.snapshot.versions  # the gallery's version travels with it
    # the views point at the model, so a page holds the thumbnails once
    ref = widget_serialization["to_json"](gal.snapshot, None)
    assert gal.get_state()["snapshot"] == ref == proj.get_state()["snapshot"] == f"IPY_MODEL_{gal.snapshot.model_id}"
    # a new budget makes a new snapshot for views made from then on; 0 makes none
    monkeypatch.setenv(ENV, "0.1")
    small = dw.ImageGallery(eng, v)
    assert small.snapshot is not gal.snapshot and small.snapshot.budget_mb == 0.1
    set_image_budget(0)
    assert dw.ImageGallery(eng, v).snapshot is None and dw.ProjectionView(eng, v).snapshot is None
    for w in (proj, gal, small):
        w.close()


def test_set_image_budget_is_public():
    assert dw.set_image_budget is set_image_budget


def test_a_million_images_cost_only_the_budget():
    # a read-only view of one image repeated 10^6 times: plan reads a sample, keeps what fits
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, 3, 32, 32), dtype=np.uint8)
    images = np.broadcast_to(one, (10**6, 3, 32, 32))
    cell, keep = plan(images, 2_000_000)
    assert cell == _snapshot.MIN_CELL
    assert 0 < len(keep) < 10**6 and len(keep) * cell * cell <= _snapshot.MAX_PIXELS
    atlas, _ = _snapshot.encode_atlas(images[keep], cell)
    assert len(atlas) + len(keep) * 51 <= 2_000_000
