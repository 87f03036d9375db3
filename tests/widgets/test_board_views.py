"""ClassifierBoard, MosaicView and TraceView from Python: training jobs, version management,
what the views send, validation, and views following the active version."""

from __future__ import annotations

import time

import numpy as np
import pytest
import traitlets

import dashwidgets as dw
from dashwidgets.train import loop as engine_module


def _wait(cond, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def eng(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    e.train(epochs=1, progress=False)
    return e


def test_board_trains_in_the_background_with_live_losses(eng):
    board = dw.ClassifierBoard(eng)
    assert [r["id"] for r in board.versions] == ["v1"] and board.active == "v1"
    board.epochs, board.lr, board.parent = 2, 1e-3, "v1"
    job = board.train()
    assert board.state == "running"
    v = job.result(timeout=120)
    _wait(lambda: board.state == "done")
    assert len(board.train_loss) == 2 and len(board.val_loss) == 2
    assert board.train_loss == pytest.approx([h["train_loss"] for h in v.history], rel=1e-5)
    assert v.parent == "v1" and v.hparams["lr"] == pytest.approx(1e-3)
    row = board.versions[-1]
    assert row["id"] == v.id and row["parent"] == "v1" and row["hparams"]["epochs"] == 2
    assert row["val_accuracy"] == pytest.approx(v.metrics["val_accuracy"], abs=1e-6)
    assert board.active == v.id  # nothing pinned: the newest
    assert board.compare == ["v1", v.id]
    assert board.message == f"trained {v.id}"


def test_cancel_leaves_no_version_and_failures_show_in_the_board(eng, monkeypatch):
    board = dw.ClassifierBoard(eng, progress_interval=0)
    board.epochs = 50
    job = board.train()
    _wait(lambda: board.progress > 0)
    assert board.train() is None and "already running" in board.error
    board.cancel()
    _wait(lambda: board.state == "cancelled")
    assert job.status == "cancelled" and [v.id for v in eng.versions] == ["v1"]
    assert "no version" in board.message

    def boom(*a, **k):
        raise RuntimeError("CUDA error: device-side assert (simulated)")

    monkeypatch.setattr(engine_module, "fit", boom)
    board.error = ""
    board.epochs = 1
    board.train()
    _wait(lambda: board.state == "failed")
    assert "device-side assert" in board.error and [v.id for v in eng.versions] == ["v1"]


def test_board_switches_discards_and_refuses_bad_values(eng):
    v2 = eng.train(epochs=1, progress=False)
    board = dw.ClassifierBoard(eng)
    board.active = "v1"
    assert eng.active.id == "v1"  # pinned from the board
    board.discard("v1")
    assert "active version and cannot be discarded" in board.error and len(eng.versions) == 2
    board.discard(v2.id)
    assert [r["id"] for r in board.versions] == ["v1"] and board.message == "discarded v2"
    board.active = "v9"  # unknown: refused, shown, reverted
    assert "unknown version 'v9'" in board.error and board.active == "v1"
    board.epochs = 0
    assert board.train() is None and "epochs must be a positive integer" in board.error
    with pytest.raises(traitlets.TraitError, match="unknown optimizer"):
        board.optimizer = "lbfgs"
    with pytest.raises(traitlets.TraitError, match="unknown version 'v7' to start from"):
        board.parent = "v7"
    # browser actions arrive as custom messages
    board.epochs = 1
    board._on_msg(board, {"action": "discard", "version": "v1"}, [])
    assert "cannot be discarded" in board.error
    # a train request whose form carries a refused value trains nothing and says why
    board._on_msg(board, {"action": "train", "form": {"epochs": 1, "parent": "v7"}}, [])
    assert "unknown version 'v7' to start from" in board.error and board.job is None


def test_views_without_a_version_follow_the_active_one(eng):
    v2 = eng.train(epochs=1, progress=False)
    gallery = dw.ImageGallery(eng)  # follows
    fixed = dw.ImageGallery(eng, "v2")
    assert gallery.version == "v2"
    dw.ClassifierBoard(eng).active = "v1"
    assert gallery.version == "v1" and fixed.version == "v2"
    eng.active = v2
    assert gallery.version == "v2"


def test_mosaic_sends_both_predictions_and_links_to_the_board(eng):
    eng.train(epochs=1, progress=False)
    m = dw.MosaicView(eng)
    assert m.versions == ["v1", "v2"] and m.split == "test"
    cmp = eng.compare("v1", "v2")
    np.testing.assert_array_equal(np.frombuffer(m.pred_a, np.uint16), cmp.pred_a)
    np.testing.assert_array_equal(np.frombuffer(m.pred_b, np.uint16), cmp.pred_b)
    np.testing.assert_array_equal(np.frombuffer(m.index, np.uint32), cmp.indices)
    assert m.accuracy == pytest.approx([cmp.accuracy_a, cmp.accuracy_b])
    with pytest.raises(traitlets.TraitError, match="exactly two versions"):
        m.versions = ["v1", "v2", "v1"]
    with pytest.raises(traitlets.TraitError, match="at least two versions"):
        m.versions = ["v1"]
    board = dw.ClassifierBoard(eng)
    links = dw.link(board, m, dw.ImageGallery(eng))
    assert any(lk.source == (board, "compare") and lk.target == (m, "versions") for lk in links)
    with pytest.raises(ValueError, match="needs at least two versions"):
        dw.MosaicView(dw.Engine(eng.dataset, device="cpu"))


def test_trace_sends_the_correct_matrix_and_follows_new_versions(eng):
    eng.train(epochs=1, progress=False)
    t = dw.TraceView(eng)
    tr = eng.trace()
    assert t.versions == ["v1", "v2"]
    correct = np.frombuffer(t.correct, np.uint8).reshape(-1, 2)
    np.testing.assert_array_equal(correct.astype(bool), tr.correct)
    assert sum(t.counts.values()) == len(tr.indices)
    assert t.counts["became right"] == len(tr.became_right())
    eng.train(epochs=1, progress=False)
    assert t.versions == ["v1", "v2", "v3"]  # follows new versions
    t.filter = "always wrong"
    np.testing.assert_array_equal(t.shown(), eng.trace().always_wrong())
    with pytest.raises(traitlets.TraitError, match="unknown filter"):
        t.filter = "improved"
