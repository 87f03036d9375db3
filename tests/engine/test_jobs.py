"""Background jobs and asynchronous training: events, result, errors, cancel."""

from __future__ import annotations

import threading
import time

import pytest
from torch import nn

import dashwidgets as dw
from dashwidgets.runtime.jobs import Cancelled, Job


def test_job_returns_its_result_and_records_events():
    def work(emit, stop):
        for i in range(3):
            emit({"type": "step", "progress": (i + 1) / 3})
        return 42

    job = Job(work)
    assert job.result(timeout=10) == 42
    assert job.status == "done" and job.done
    assert [e["type"] for e in job.events] == ["step", "step", "step", "done"]
    assert job.progress == 1.0
    seen = []
    job.on_event(seen.append)  # replays the past
    assert [e["type"] for e in seen] == ["step", "step", "step", "done"]


def test_job_reraises_the_work_exception():
    def work(emit, stop):
        raise KeyError("missing thing")

    job = Job(work)
    with pytest.raises(KeyError, match="missing thing"):
        job.result(timeout=10)
    assert job.status == "failed"
    assert job.events[-1]["type"] == "failed" and "missing thing" in job.events[-1]["error"]
    assert "KeyError" in job.traceback


def test_job_cancel_and_timeout():
    started = threading.Event()

    def work(emit, stop):
        started.set()
        while not stop.is_set():
            time.sleep(0.01)
        raise Cancelled()

    job = Job(work)
    started.wait(5)
    with pytest.raises(TimeoutError):
        job.result(timeout=0.05)
    job.cancel()
    with pytest.raises(dw.JobCancelled):
        job.result(timeout=10)
    assert job.status == "cancelled"


def test_a_broken_listener_does_not_kill_the_job(capsys):
    gate = threading.Event()

    def work(emit, stop):
        gate.wait(5)
        emit({"type": "step"})
        return "ok"

    job = Job(work)
    job.on_event(lambda ev: 1 / 0)
    gate.set()
    assert job.result(timeout=10) == "ok"
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_train_async_streams_batch_and_epoch_events(small_ds):
    eng = dw.Engine(small_ds)
    job = eng.train_async(epochs=2, batch_size=100)
    v = job.result(timeout=120)
    types = [e["type"] for e in job.events]
    assert types[0] == "start" and types[-1] == "done"
    batches = [e for e in job.events if e["type"] == "batch"]
    epochs = [e for e in job.events if e["type"] == "epoch"]
    assert len(batches) == 2 * 6 and all("loss" in b for b in batches)
    progress = [b["progress"] for b in batches]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert [e["epoch"] for e in epochs] == [1, 2]
    for e in epochs:
        assert e["train_loss"] > 0 and e["val_loss"] > 0 and 0 <= e["val_accuracy"] <= 1
    assert eng.versions == [v]
    assert [h["train_loss"] for h in v.history] == [e["train_loss"] for e in epochs]


def test_cancel_leaves_no_version(small_ds, tmp_path):
    eng = dw.Engine(small_ds, workspace=tmp_path / "ws")
    job = eng.train_async(epochs=50)
    job.on_event(lambda ev: job.cancel() if ev["type"] == "batch" and ev["batch"] == 2 else None)
    with pytest.raises(dw.JobCancelled):
        job.result(timeout=120)
    assert job.status == "cancelled"
    assert eng.versions == []
    assert list((tmp_path / "ws" / "versions").iterdir()) == []
    # the engine stays usable and the next version takes the first id
    assert eng.train(epochs=1, progress=False).id == "v1"


class _FailsWhileTraining(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        if self.training:
            raise RuntimeError("boom in training")
        return self.head(self.conv(x).mean(dim=(2, 3)))


def test_training_errors_surface_from_result_and_leave_no_version(small_ds):
    eng = dw.Engine(small_ds, model=_FailsWhileTraining())
    job = eng.train_async(epochs=1)
    with pytest.raises(RuntimeError, match="boom in training"):
        job.result(timeout=60)
    assert job.status == "failed" and eng.versions == []
    with pytest.raises(RuntimeError, match="boom in training"):
        eng.train(epochs=1, progress=False)
    assert eng.versions == []


def test_kernel_stays_responsive_while_training(small_ds):
    """train_async returns at once while the job runs on: a blocking train_async would return
    only after the whole job (here ~200 epochs, minutes on any CPU)."""
    eng = dw.Engine(small_ds)
    epochs = 200
    t0 = time.perf_counter()
    job = eng.train_async(epochs=epochs)
    call = time.perf_counter() - t0
    running = job.done is False  # read before anything else can let the job finish
    try:
        assert running, job
        stamps = []  # when the first two epochs end, seen from this (free) thread
        while len(stamps) < 2:
            n = sum(e["type"] == "epoch" for e in list(job.events))
            stamps += [time.perf_counter()] * (n - len(stamps))
            assert job.wait(0.02) is False, job
        epoch = stamps[1] - stamps[0] if stamps[1] > stamps[0] else (stamps[1] - t0) / 2
        assert job.done is False and job.status == "running"
        # the call took a small share of the job's expected time (epochs x one epoch); a
        # train_async that trained before returning would have taken about all of it
        assert call < 0.05 * epochs * epoch, (call, epoch)
    finally:
        job.cancel()
    assert job.wait(60) and job.status == "cancelled"
    assert eng.versions == []  # a cancelled job keeps nothing
