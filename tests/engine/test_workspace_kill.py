"""Fault test: a process that trains and saves versions is SIGKILLed at random points, 20 times,
into one workspace. Every version it reported finished must reopen with exactly the weights it
reported; an interrupted save may leave an incomplete file (named in a warning) but never a
corrupted one, and opening never raises."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest
from workspace_helpers import HASH_SRC, state_hash

import dashwidgets as dw
from dashwidgets.engine.workspace import WorkspaceWarning

RUNS = 20


TRAINER = HASH_SRC + textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    import dashwidgets as dw
    ds = dw.datasets.load("colored-digits", bias=0.99, seed=0, size=16, n_train=64, n_val=16, n_test=16)
    eng = dw.Engine(ds, device="cpu", workspace=sys.argv[1])
    run = int(sys.argv[2])
    for k in range(1000):
        v = eng.train(epochs=1, batch_size=16, seed=1000 * run + k, progress=False)
        print("DONE", v.id, state_hash(eng._store.weights(v.id)), flush=True)
        if k == 0:
            print("READY", flush=True)  # torch's first-run warm-up is over: the loop's pace from here
    """
)


def _one_run(ws, run: int, rng: random.Random) -> tuple[dict[str, str], str]:
    """Start the trainer, SIGKILL it at a random point; what it reported, and how it ended."""
    proc = subprocess.Popen(
        [sys.executable, "-c", TRAINER, str(ws), str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("READY"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if run % 5 == 0:
        # every fifth run dies anywhere from start-up (creating the workspace, on the first run)
        # through its first training and save
        time.sleep(rng.uniform(0.0, 8.0))
    else:
        assert ready.wait(120), "the trainer never got ready"
        time.sleep(rng.uniform(0.0, 1.5))  # spread over the train/save loop
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    reader.join(30)
    err = proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL, f"the trainer failed on its own:\n{err[-3000:]}"
    reported = {}
    for line in lines:
        if line.startswith("DONE"):
            _, vid, digest = line.split()
            reported[vid] = digest
    return reported, err


@pytest.mark.slow
def test_sigkill_at_random_points_keeps_every_reported_version_bit_identical(tmp_path):
    ws = tmp_path / "ws"
    rng = random.Random(20240612)
    reported: dict[str, str] = {}
    t0 = time.perf_counter()
    for run in range(RUNS):
        got, _ = _one_run(ws, run, rng)
        clash = set(got) & set(reported)
        assert not clash, f"run {run} reused finished version ids {sorted(clash)}"
        reported.update(got)
    elapsed = time.perf_counter() - t0

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        eng = dw.Engine.open(ws, device="cpu")  # never raises
    ws_warnings = [str(w.message) for w in record if issubclass(w.category, WorkspaceWarning)]
    assert len(reported) >= RUNS // 2, f"too few versions finished to test anything ({len(reported)} in {elapsed:.0f} s)"
    ids = {v.id for v in eng.versions}
    missing = sorted(set(reported) - ids, key=lambda v: int(v[1:]))
    assert not missing, f"reported finished but not reopened: {missing}; warnings: {ws_warnings}"
    for vid, digest in reported.items():
        assert state_hash(eng._store.weights(vid)) == digest, f"{vid}'s weights changed on disk"
    # Writes are atomic: a kill leaves at most a weights file without its record, never half a file.
    assert all(m.startswith("incomplete version") for m in ws_warnings), ws_warnings
    assert eng.workspace_errors == ws_warnings
    # the history is whole JSON and holds every reported version's train event
    trained = {h["version"] for h in eng.history if h["event"] == "train"}
    assert set(reported) <= trained
    print(f"{RUNS} kills in {elapsed:.0f} s: {len(reported)} versions reported, {len(ids)} on disk, "
          f"{len(ws_warnings)} incomplete-file warnings")
