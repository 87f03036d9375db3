"""Issue 12's evidence: one test per fault a hostile tester found in the workspace and the engine's
argument handling. Each test names the fault it guards against."""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from workspace_helpers import HASH_SRC, state_hash

import dashwidgets as dw
from dashwidgets.engine import workspace as wsmod
from dashwidgets.engine.workspace import WorkspaceError, WorkspaceWarning
from dashwidgets.runtime.jobs import JobCancelled

DATA = "dict(bias=0.99, seed=0, size=16, n_train=200, n_val=50, n_test=50)"



@pytest.fixture(scope="module")
def tiny_ds() -> dw.datasets.ImageSet:
    return dw.datasets.load("colored-digits", **eval(DATA))


@pytest.fixture
def ws3(tiny_ds, tmp_path):
    """A workspace with three 1-epoch versions: (engine, path)."""
    path = tmp_path / "ws"
    eng = dw.Engine(tiny_ds, device="cpu", workspace=path)
    for seed in range(3):
        eng.train(epochs=1, seed=seed, progress=False)
    return eng, path


def _messages(record) -> list[str]:
    return [str(w.message) for w in record]


def _run_python(code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


# ==================================================================== two processes, one workspace
def test_two_processes_training_into_one_workspace_both_keep_their_versions(tiny_ds, tmp_path):
    """The second process used to allocate v3..v5 from its own memory and overwrite the first's.
    Both train at the same time (a start barrier on files); every id either reports must come
    back from the workspace with the weights that process trained, and one train event each."""
    ws = tmp_path / "ws"
    eng = dw.Engine(tiny_ds, device="cpu", workspace=ws)
    eng.train(epochs=1, progress=False)  # v1, so both processes resume a workspace with history
    code = HASH_SRC + textwrap.dedent(
        f"""
        import sys, time, pathlib, torch
        torch.set_num_threads(1)
        import dashwidgets as dw
        me = int(sys.argv[1])
        ws = pathlib.Path({str(ws)!r})
        eng = dw.Engine.open(ws, device="cpu")
        (ws.parent / f"ready{{me}}").touch()
        deadline = time.time() + 120
        while not all((ws.parent / f"ready{{i}}").exists() for i in (0, 1)) and time.time() < deadline:
            time.sleep(0.01)
        for k in range(3):
            v = eng.train(epochs=1, seed=100 * me + k, progress=False)
            print("VERSION", v.id, state_hash(eng._store.weights(v.id)), flush=True)
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
        for i in (0, 1)
    ]
    reported: dict[str, str] = {}
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        lines = [line.split() for line in out.splitlines() if line.startswith("VERSION")]
        assert len(lines) == 3, out
        for _, vid, digest in lines:
            assert vid not in reported, f"both processes got id {vid}"
            reported[vid] = digest
    assert len(reported) == 6 and "v1" not in reported

    again = dw.Engine.open(ws, device="cpu")
    assert again.workspace_errors == []
    ids = {v.id for v in again.versions}
    assert set(reported) | {"v1"} == ids
    for vid, digest in reported.items():
        assert state_hash(again._store.weights(vid)) == digest, f"{vid} holds another process's weights"
    files = sorted(p.name for p in (ws / "versions").glob("v*.pt"))
    assert len(files) == 7 and len({(ws / "versions" / f).read_bytes() for f in files}) == 7
    trained = [h["version"] for h in again.history if h["event"] == "train"]
    assert sorted(trained) == sorted(ids), again.history


# ==================================================================== a folder that is not a workspace
def test_non_workspace_folder_is_refused_and_none_of_its_files_change(tiny_ds, tmp_path):
    """workspace= at a user's folder holding history.json, versions/v1.json and projection/x.npy
    used to adopt it and overwrite them."""
    folder = tmp_path / "mine"
    (folder / "versions").mkdir(parents=True)
    (folder / "projection").mkdir()
    (folder / "history.json").write_text('["my notes"]')
    (folder / "versions" / "v1.json").write_text('{"mine": true}')
    np.save(folder / "projection" / "x.npy", np.arange(5))

    def snapshot():
        return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}

    before = snapshot()
    with pytest.raises(WorkspaceError, match=re.escape(str(folder))):
        dw.Engine(tiny_ds, device="cpu", workspace=folder)
    with pytest.raises(WorkspaceError, match=re.escape(str(folder))):
        dw.Engine.open(folder, device="cpu")
    assert snapshot() == before  # same names, same bytes: nothing written, changed or deleted


# ==================================================================== garbled and duplicated records
def test_garbled_version_record_is_named_and_the_rest_loads(ws3):
    eng, path = ws3
    rec = path / "versions" / "v2.json"
    rec.write_text(rec.read_text().replace('"id": "v2"', '"id": "x"'))
    assert '"id": "x"' in rec.read_text()
    with pytest.warns(WorkspaceWarning) as record:
        again = dw.Engine.open(path, device="cpu")
    assert any(str(rec) in m for m in _messages(record)), _messages(record)
    assert [v.id for v in again.versions] == ["v1", "v3"]
    assert state_hash(again._store.weights("v3")) == state_hash(eng._store.weights("v3"))


def test_record_claiming_another_versions_id_is_refused_and_v1_keeps_its_weights(ws3):
    """A v2.json whose record says "v1" used to replace v1 by v2's weights."""
    eng, path = ws3
    trained_v1 = {k: v.clone() for k, v in eng._store.weights("v1").items()}
    assert state_hash(trained_v1) != state_hash(eng._store.weights("v2"))
    rec = path / "versions" / "v2.json"
    rec.write_text(rec.read_text().replace('"id": "v2"', '"id": "v1"'))
    with pytest.warns(WorkspaceWarning) as record:
        again = dw.Engine.open(path, device="cpu")
    named = [m for m in _messages(record) if str(rec) in m]
    assert named and "'v1'" in named[0], _messages(record)
    assert [v.id for v in again.versions] == ["v1", "v3"]
    state = again.model("v1").state_dict()
    assert state.keys() == trained_v1.keys()
    for k, t in trained_v1.items():
        assert torch.equal(state[k].cpu(), t), k


# ==================================================================== another architecture, same class
class Net(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.head(x.mean(dim=(2, 3)))


def test_workspace_of_another_architecture_of_the_same_class_is_refused_naming_both(tiny_ds, tmp_path):
    """Two widths of one nn.Module class used to pass the class check and then load as a '2 KB
    corrupted' warning per version."""
    path = tmp_path / "ws"
    small = dw.Engine(tiny_ds, model=Net(4), device="cpu", workspace=path)
    small.train(epochs=1, progress=False)
    n_small = f"{sum(p.numel() for p in Net(4).parameters()):,}"
    n_wide = f"{sum(p.numel() for p in Net(12).parameters()):,}"
    for attempt in (lambda: dw.Engine(tiny_ds, model=Net(12), device="cpu", workspace=path),
                    lambda: dw.Engine.open(path, model=Net(12), device="cpu")):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            with pytest.raises(WorkspaceError) as err:
                attempt()
        msg = str(err.value)
        assert f"Net with {n_small} parameters" in msg and f"Net with {n_wide} parameters" in msg, msg
        assert not [m for m in _messages(record) if "corrupt" in m], _messages(record)
    assert [v.id for v in dw.Engine.open(path, model=Net(4), device="cpu").versions] == ["v1"]


# ==================================================================== read-only workspace, failing save
def _make_unwritable(path: Path, monkeypatch) -> str:
    """Make the workspace unwritable: chmod where that binds (not as root), else every new file
    fails with ENOSPC (a full disk). Returns which was used."""
    versions = path / "versions"
    versions.chmod(0o555)
    if not os.access(versions, os.W_OK):
        return "chmod"
    versions.chmod(0o755)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(wsmod.tempfile, "mkstemp", full_disk)
    return "enospc"


def test_unwritable_workspace_refuses_training_before_any_epoch(tiny_ds, tmp_path, monkeypatch):
    path = tmp_path / "ws"
    eng = dw.Engine(tiny_ds, device="cpu", workspace=path)
    v1 = eng.train(epochs=1, progress=False)
    fits = []
    real_fit = dw.engine.training.loop.fit
    monkeypatch.setattr(dw.engine.training.loop, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    how = _make_unwritable(path, monkeypatch)
    try:
        t0 = time.perf_counter()
        with pytest.raises(WorkspaceError, match=re.escape(str(path))):
            eng.train_async(epochs=50)
        with pytest.raises(WorkspaceError, match=re.escape(str(path))):
            eng.train(epochs=50, progress=False)
        with pytest.raises(WorkspaceError):
            eng.retrain(v1, epochs=50, progress=False)
        assert time.perf_counter() - t0 < 5.0, "refused only after training (50 epochs)"
    finally:
        if how == "chmod":
            (path / "versions").chmod(0o755)
    assert fits == [], "an epoch ran before the refusal"
    assert [v.id for v in eng.versions] == ["v1"]


def test_save_failing_after_training_keeps_the_version_in_memory_and_says_how_to_save_it(
    tiny_ds, tmp_path, monkeypatch
):
    path = tmp_path / "ws"
    eng = dw.Engine(tiny_ds, device="cpu", workspace=path)
    eng.train(epochs=1, progress=False)
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".pt") and Path(dst).parent.name == "versions":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr(wsmod.os, "replace", replace)
    with pytest.warns(RuntimeWarning, match=r"torch\.save\(eng\.model\('v2'\)\.state_dict\(\), path\)") as record:
        v2 = eng.train(epochs=1, seed=1, progress=False)
    monkeypatch.setattr(wsmod.os, "replace", real_replace)
    assert "elsewhere" in str(record[0].message) and str(path) in str(record[0].message)
    assert v2.id == "v2" and [v.id for v in eng.versions] == ["v1", "v2"]
    assert eng.model(v2) is not None and eng.evaluate(v2, "val").accuracy >= 0
    assert not list((path / "versions").glob("v2*")) and not list((path / "versions").glob(".*.tmp"))
    assert [v.id for v in dw.Engine.open(path, device="cpu").versions] == ["v1"]
    # the next version still gets a fresh id, not v2's
    assert eng.train(epochs=1, seed=2, progress=False).id == "v3"


# ==================================================================== frozen parameters
def test_frozen_parameters_stay_bit_identical_and_all_frozen_is_refused(tiny_ds):
    model = dw.models.default_model(tiny_ds.num_classes, seed=0)
    frozen = ["features.0.weight", "features.1.weight", "features.1.bias"]
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad_(False)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    eng = dw.Engine(tiny_ds, model=model, device="cpu")
    v = eng.train(epochs=1, lr=1e-2, progress=False)
    after = eng._store.weights(v.id)
    for name in frozen:
        assert torch.equal(after[name], initial[name]), f"frozen {name} changed"
    changed = [n for n, _ in model.named_parameters() if n not in frozen and not torch.equal(after[n], initial[n])]
    assert set(changed) == {n for n, _ in model.named_parameters()} - set(frozen)

    for p in model.parameters():
        p.requires_grad_(False)
    all_frozen = dw.Engine(tiny_ds, model=model, device="cpu")
    with pytest.raises(ValueError, match="frozen"):
        all_frozen.train(epochs=1, progress=False)
    with pytest.raises(ValueError, match="frozen"):
        all_frozen.train_async(epochs=1)


# ==================================================================== arguments
def test_eval_batch_size_zero_fails_at_construction(tiny_ds, monkeypatch):
    fits = []
    monkeypatch.setattr(dw.engine.training.loop, "fit", lambda *a, **k: fits.append(1))
    with pytest.raises(ValueError, match="eval_batch_size"):
        dw.Engine(tiny_ds, device="cpu", eval_batch_size=0)
    with pytest.raises(TypeError, match="eval_batch_size"):
        dw.Engine(tiny_ds, device="cpu", eval_batch_size=2.5)
    assert fits == []


def test_split_given_as_a_list_is_a_value_error_naming_split(tiny_ds):
    eng = dw.Engine(tiny_ds, device="cpu")
    v = eng.train(epochs=1, progress=False)
    with pytest.raises(ValueError, match="split"):
        eng.evaluate(v, split=["val"])
    with pytest.raises(ValueError, match="split"):
        eng.evaluate(v, split="validation")


def test_numpy_scalar_hyper_parameters_train(tiny_ds):
    eng = dw.Engine(tiny_ds, device="cpu")
    v = eng.train(lr=np.float32(1e-3), epochs=np.int64(1), batch_size=np.int32(64), progress=False)
    assert v.hparams["epochs"] == 1 and type(v.hparams["epochs"]) is int
    assert type(v.hparams["lr"]) is float and v.hparams["lr"] == pytest.approx(1e-3)
    assert len(v.history) == 1


def test_discarding_the_parent_of_a_running_job_is_refused_until_it_ends(tiny_ds):
    eng = dw.Engine(tiny_ds, device="cpu")
    v1 = eng.train(epochs=1, progress=False)
    eng.train(epochs=1, seed=1, progress=False)  # v2 is active, so v1 is discardable but for the job
    job = eng.train_async(epochs=500, parent=v1)
    try:
        with pytest.raises(ValueError, match=r"v1.*running training job"):
            eng.discard(v1)
        assert "v1" in [v.id for v in eng.versions]
    finally:
        job.cancel()
    with pytest.raises(JobCancelled):
        job.result(timeout=120)
    eng.discard(v1)
    assert [v.id for v in eng.versions] == ["v2"]


# ==================================================================== refused checkpoints
class _Payload:
    """Any Python object: unpickling it would run code of the pickler's choosing."""


def test_refused_checkpoint_warning_names_the_file_and_never_advises_unsafe_loading(ws3):
    eng, path = ws3
    init, v1 = path / "init.pt", path / "versions" / "v1.pt"
    torch.save({"a": object()}, init)
    torch.save({"weights": _Payload()}, v1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        again = dw.Engine.open(path, device="cpu")
    texts = _messages(record) + list(again.workspace_errors)
    assert any(str(init) in m for m in texts), texts
    assert any(str(v1) in m for m in texts), texts
    for m in texts:  # torch's own advice reads "weights_only set to False" / add_safe_globals
        assert not re.search(r"weights_only|allow_pickle|safe_globals|trust the source", m), m
    assert [v.id for v in again.versions] == ["v2", "v3"]


# ==================================================================== umask
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664)])
def test_workspace_files_follow_the_umask(tmp_path, umask, mode):
    """Files used to be mkstemp's 0600, so a team could not share a workspace."""
    ws = tmp_path / "ws"
    code = textwrap.dedent(
        f"""
        import os
        os.umask({umask:#o})
        import torch
        torch.set_num_threads(1)
        import dashwidgets as dw
        ds = dw.datasets.load("colored-digits", **{DATA})
        eng = dw.Engine(ds, device="cpu", workspace={str(ws)!r})
        eng.train(epochs=1, progress=False)
        """
    )
    r = _run_python(code)
    assert r.returncode == 0, r.stderr[-3000:]
    files = [p for p in ws.rglob("*") if p.is_file()]  # the lock too: a team member must take it
    names = {p.name for p in files}
    assert {"workspace.json", "dataset.npz", "init.pt", "history.json", "v1.pt", "v1.json"} <= names, names
    modes = {str(p.relative_to(ws)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(mode)}, modes


# ==================================================================== caches
def test_attribution_cache_stays_under_its_byte_bound(tiny_ds, monkeypatch):
    eng = dw.Engine(tiny_ds, device="cpu")
    v = eng.train(epochs=1, progress=False)
    cache = eng.caches["attribution"]
    one = 4 * 16 * 16 * 4  # four float32 16x16 maps
    monkeypatch.setattr(cache, "max_bytes", 3 * one)
    for start in range(0, 40, 4):
        eng.attribute(v, np.arange(start, start + 4), "gradcam")
        assert 0 < cache.nbytes <= 3 * one, cache
    assert len(cache) == 3 and cache.keys(v.id)


def test_attribute_with_a_bad_batch_size_raises_and_caches_nothing(tiny_ds):
    eng = dw.Engine(tiny_ds, device="cpu")
    v = eng.train(epochs=1, progress=False)
    idx = np.arange(6)
    for bad in (-1, 0):
        with pytest.raises(ValueError, match="batch_size"):
            eng.attribute(v, idx, "gradcam", batch_size=bad)
    assert len(eng.caches["attribution"]) == 0
    maps = eng.attribute(v, idx, "gradcam", numpy=True)
    assert maps.shape == (6, 16, 16) and np.isfinite(maps).all() and (maps != 0).any()


def test_discard_leaves_no_entry_of_the_version_in_any_registered_cache(tiny_ds, tmp_path, monkeypatch):
    """Every cache a service registered is emptied of the version (t-SNE itself is replaced by
    a cheap stand-in: what matters is that the projection service fills its cache)."""

    def fit(self, features, callback=None):
        self.reference_features = np.asarray(features, np.float32)
        self.reference_coords = self.reference_features[:, :2].copy()
        return self.reference_coords

    monkeypatch.setattr(dw.audit.projection.TSNEMap, "fit", fit)
    monkeypatch.setattr(dw.audit.projection.TSNEMap, "transform", lambda self, f, cb=None: np.asarray(f)[:, :2])
    eng = dw.Engine(tiny_ds, device="cpu", workspace=tmp_path / "ws")
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.train(epochs=1, seed=1, progress=False)
    extra = eng._store.cache("a-later-service")  # one no one lists by hand
    for v in (v1, v2):
        eng.model(v)
        eng.evaluate(v, "val")
        eng.project(v, progress=False)
        eng.attribute(v, [0, 1], "gradcam")
        eng.cluster(v, k=2)
        eng.translator(v, k=2, steps=2, progress=False)
        eng.subgroups(v, k=2)
        eng.neuron_scores(v, {"g": [0, 1]})
        layer = dw.models.layers.conv_layers(eng.model(v))[-1]
        eng.cluster_neurons(v, [(layer, 0), (layer, 1)], epochs=0)  # fills "concepts" too
        eng.criticize(v, split="val", sample=4, n=1)
        eng.report(v, sample=20, criticize=False, progress=False)
        extra.put(v.id, "key", np.zeros(3))
    caches = eng.caches
    assert {"models", "evaluate", "projection", "attribution", "clusters", "translators", "subgroups", "neuron_maxima", "concepts",
            "neuron_clusters", "report"} <= set(
        caches
    )
    empty = [name for name, c in caches.items() if not c.keys(v1.id)]
    assert empty == [], f"precondition: caches without a v1 entry: {empty}"
    eng.discard(v1)
    left = {name: c.keys(v1.id) for name, c in eng.caches.items() if c.keys(v1.id)}
    assert left == {}, left
    assert all(c.keys(v2.id) for c in eng.caches.values())  # the other version's entries stay
    assert not list((tmp_path / "ws").rglob("*v1*")), "v1's files (weights, coordinates) were left"


# ==================================================================== unknown keywords
def test_unknown_keywords_are_refused_by_name(tiny_ds):
    eng = dw.Engine(tiny_ds, device="cpu")
    v = eng.train(epochs=1, progress=False)
    idx = tiny_ds.indices("train")[:4]
    with pytest.raises(TypeError, match="stepz"):
        eng.attribute(v, idx, "gradcam", stepz=3)
    with pytest.raises(TypeError, match="sigmaa"):
        eng.augment(idx, method="noise", sigmaa=1)
    with pytest.raises(TypeError, match="epochz"):
        eng.train_config(epochz=1)
