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
    assert board.message.startswith(f"trained {v.id} (2 epoch(s) from v1, val accuracy ")
    assert board.val_accuracy == pytest.approx([h["val_accuracy"] for h in v.history], abs=1e-6)
    # every version's curves travel in its row: per-epoch train/val loss and val accuracy
    hist = board.versions[-1]["history"]
    assert [h["train_loss"] for h in hist] == pytest.approx([h["train_loss"] for h in v.history], rel=1e-5)
    assert [h["val_accuracy"] for h in hist] == pytest.approx([h["val_accuracy"] for h in v.history], abs=1e-6)


def test_live_batch_points_arrive_within_epochs(eng):
    """A train-loss point per progress update, at fractional epochs: 600 images in batches of 50
    are 12 batches an epoch, so with no throttle every batch is a point."""
    board = dw.ClassifierBoard(eng, progress_interval=0)
    board.epochs, board.batch_size = 2, 50
    seen_running = []
    board.observe(lambda ch: seen_running.append((board.state, len(ch["new"]))), "batch_loss")
    v = board.train().result(timeout=120)
    _wait(lambda: board.state == "done")
    xs = [p[0] for p in board.batch_loss]
    assert xs == sorted(xs) and len(xs) == 24
    assert xs[:12] == pytest.approx([(b + 1) / 12 for b in range(12)], abs=1e-3)
    assert xs[-1] == pytest.approx(2.0)
    # points were sent while the job ran, one by one (not once at the end)
    assert [n for state, n in seen_running if state == "running"][:3] == [1, 2, 3]
    # epoch 1's points average to its mean train loss (equal batches)
    first = [p[1] for p in board.batch_loss[:12]]
    assert sum(first) / 12 == pytest.approx(v.history[0]["train_loss"], rel=1e-3)


def test_live_points_are_throttled_and_bounded(eng):
    """With a long interval the comm gets one point per epoch (the epoch's mean loss); beyond
    MAX_BATCH_POINTS neighbours merge."""
    from dashwidgets.widgets import board as board_module

    board = dw.ClassifierBoard(eng, progress_interval=3600)
    board.epochs, board.batch_size = 2, 50
    v = board.train().result(timeout=120)
    _wait(lambda: board.state == "done")
    assert [p[0] for p in board.batch_loss] == pytest.approx([1.0, 2.0])
    assert [p[1] for p in board.batch_loss] == pytest.approx([h["train_loss"] for h in v.history], rel=1e-3)
    board.batch_loss = [[i / 10, 1.0] for i in range(board_module.MAX_BATCH_POINTS)]
    board._window = [2.0]
    board._flush_window(61.0)
    assert len(board.batch_loss) == board_module.MAX_BATCH_POINTS // 2 + 1
    assert board.batch_loss[-1] == [61.0, 2.0]


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

    # the cancelled run's partial curve stays (the board marks it "cancelled run")
    assert board.state == "cancelled" and board.batch_loss and len(board.train_loss) < 50

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


def test_cancel_keeps_the_finished_versions_curves(eng):
    board = dw.ClassifierBoard(eng, progress_interval=0)
    board.epochs, board.batch_size = 2, 50
    v2 = board.train().result(timeout=120)
    _wait(lambda: board.state == "done")
    board.epochs = 50
    board.train()
    _wait(lambda: len(board.batch_loss) >= 3)
    assert board.train_loss == []  # the new run starts its own curve
    board.cancel()
    _wait(lambda: board.state == "cancelled")
    rows = {r["id"]: r for r in board.versions}
    assert sorted(rows) == ["v1", "v2"]
    for v in (eng.version("v1"), v2):
        assert [h["train_loss"] for h in rows[v.id]["history"]] == pytest.approx([h["train_loss"] for h in v.history], rel=1e-5)
        assert [h["val_loss"] for h in rows[v.id]["history"]] == pytest.approx([h["val_loss"] for h in v.history], rel=1e-5)
    assert len(rows["v2"]["history"]) == 2 and board.batch_loss  # and the cancelled part too


def test_status_follows_versions_trained_from_python(eng):
    board = dw.ClassifierBoard(eng)
    assert [r["id"] for r in board.versions] == ["v1"]
    eng.train(epochs=1, lr=2e-3, progress=False)
    eng.train(epochs=2, parent="v1", progress=False)
    assert [r["id"] for r in board.versions] == ["v1", "v2", "v3"]
    assert board.message.startswith("trained v3 (2 epoch(s) from v1, val accuracy ")
    assert board.message.endswith("3 version(s)")
    eng.active = "v2"
    assert board.message == "v2 is active: views that follow the engine show it" and board.active == "v2"
    eng.discard("v3")
    assert board.message == "discarded v3"


def test_hparams_table_and_csv_export(eng, tmp_path):
    import pandas as pd

    v2 = eng.train(epochs=2, lr=2e-3, batch_size=32, optimizer="sgd", parent="v1", progress=False)
    board = dw.ClassifierBoard(eng)
    df = board.hparams_table()
    assert list(df["version"]) == ["v1", "v2"] and list(df["parent"]) == ["", "v1"]
    assert list(df.columns[:3]) == ["version", "name", "parent"]
    assert list(df.columns[-4:]) == ["augmentations", "val_accuracy", "test_accuracy", "created"]
    for v in (eng.version("v1"), v2):
        row = df.set_index("version").loc[v.id]
        for k, val in v.hparams.items():
            assert row[k] == val, (v.id, k)
        assert row["val_accuracy"] == pytest.approx(v.metrics["val_accuracy"], abs=1e-6)
    assert df.set_index("version").loc["v2", "optimizer"] == "sgd"
    path = board.export_csv(tmp_path / "hp.csv")
    back = pd.read_csv(path, keep_default_na=False)
    assert list(back.columns) == list(df.columns)
    assert list(back["version"]) == ["v1", "v2"] and list(back["lr"]) == pytest.approx([df["lr"][0], 2e-3])
    assert list(back["epochs"]) == [eng.version("v1").hparams["epochs"], 2]
