"""Image stores: memory-mapped ImageSets on disk, and the engine reading them batch by batch."""

import json

import numpy as np
import pytest
import torch

import dashwidgets as dw
from dashwidgets.datasets import SceneDigits, StoreError, open_store, to_store
from dashwidgets.engine.context import MappedRows


def _same(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.split, b.split)
    assert a.classes == b.classes and sorted(a.masks) == sorted(b.masks)
    for k in a.masks:
        np.testing.assert_array_equal(a.masks[k], b.masks[k])
    for k in a.attributes:
        np.testing.assert_array_equal(a.attributes[k], b.attributes[k])


def test_an_imageset_round_trips_through_a_store_memory_mapped(small_ds, tmp_path):
    ds = to_store(small_ds, tmp_path / "s", batch=128)
    _same(ds, small_ds)
    assert ds.mapped and not small_ds.mapped
    assert ds.fingerprint() == small_ds.fingerprint()
    assert all(isinstance(m.base, np.memmap) or m.base is not None for m in ds.masks.values())
    again = open_store(tmp_path / "s")
    assert again.mapped and again.fingerprint() == ds.fingerprint()
    # a subset is read into memory and no longer claims the store
    sub = ds.subset([0, 5, 7])
    assert not sub.mapped and "store" not in sub.meta


def test_a_lazy_scene_set_is_written_batch_by_batch(tmp_path):
    src = SceneDigits(bias=0.9, seed=2, size=32, n_train=70, n_val=20, n_test=30)
    seen = []
    ds = to_store(src, tmp_path / "scenes", batch=32, progress=seen.append)
    assert seen == [32, 64, 96, 120]
    _same(ds, src.to_imageset())
    assert ds.mapped and ds.name == "scene-digits"


def test_store_errors_name_the_problem(small_ds, tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(StoreError, match="not an image store"):
        open_store(tmp_path / "plain")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("mine")
    with pytest.raises(StoreError, match="not empty"):
        to_store(small_ds, tmp_path / "full")
    with pytest.raises(TypeError, match="ImageSet or a SceneDigits"):
        to_store([1, 2], tmp_path / "bad")


def test_a_changed_store_is_refused_by_its_fingerprint(small_ds, tmp_path):
    to_store(small_ds, tmp_path / "s")
    img = np.load(tmp_path / "s" / "images.npy", mmap_mode="r+")
    img[0] = 255 - img[0]
    img.flush()
    del img
    with pytest.raises(StoreError, match="fingerprint"):
        open_store(tmp_path / "s")
    header = json.loads((tmp_path / "s" / "store.json").read_text())
    header["format_version"] = 99
    (tmp_path / "s" / "store.json").write_text(json.dumps(header))
    with pytest.raises(StoreError, match="version-1"):
        open_store(tmp_path / "s")


def test_mapped_rows_read_any_index_order_across_parts():
    a = np.arange(5 * 3 * 2 * 2, dtype=np.uint8).reshape(5, 3, 2, 2)
    extra = 200 + np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
    rows = MappedRows(a).plus(extra)
    idx = torch.tensor([6, 0, 4, 5, 0, 2])
    np.testing.assert_array_equal(rows[idx].numpy(), np.concatenate([a, extra])[idx.numpy()])
    assert len(rows) == 7 and rows.numel() == 7 * 12


def test_an_engine_on_a_store_trains_and_evaluates_exactly_as_in_memory(small_ds, tmp_path):
    """Same data, same seed: the mapped path reads the same batches, so weights and predictions
    are identical, and the images are never loaded whole."""
    torch.manual_seed(0)
    mapped = to_store(small_ds, tmp_path / "s")
    hp = {"epochs": 1, "batch_size": 64, "seed": 3}
    e_mem = dw.Engine(small_ds, device="cpu", seed=3)
    e_map = dw.Engine(mapped, device="cpu", seed=3, workspace=tmp_path / "ws")
    assert isinstance(e_map._ctx.images, MappedRows)
    v_mem, v_map = e_mem.train(**hp), e_map.train(**hp)
    a, b = e_mem.evaluate(v_mem), e_map.evaluate(v_map)
    np.testing.assert_array_equal(a.pred, b.pred)
    np.testing.assert_allclose(a.probs, b.probs, rtol=0, atol=0)
    assert e_map.dataset.mapped
    # the workspace references the store instead of copying its images, and reopens it mapped
    assert (tmp_path / "ws" / "dataset.json").is_file() and not (tmp_path / "ws" / "dataset.npz").exists()
    again = dw.Engine.open(tmp_path / "ws", device="cpu")
    assert again.dataset.mapped
    np.testing.assert_array_equal(again.evaluate(again.active).pred, b.pred)


def test_a_workspace_whose_store_moved_says_where_it_looked(small_ds, tmp_path):
    mapped = to_store(small_ds, tmp_path / "s")
    dw.Engine(mapped, device="cpu", workspace=tmp_path / "ws")
    (tmp_path / "s").rename(tmp_path / "moved")
    with pytest.raises(dw.WorkspaceError, match=r"image store .*s.* does not copy"):
        dw.Engine.open(tmp_path / "ws", device="cpu")
