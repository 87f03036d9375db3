"""Issue 17 §2: evaluations and attribution maps cached on disk per version in the workspace, so
a reopened engine does not recompute them; stale, corrupted, discarded and unwritable cases."""

from __future__ import annotations

import errno
import os
import shutil
import warnings

import numpy as np
import pytest

import dashwidgets as dw
from dashwidgets.engine import attribution as attrmod
from dashwidgets.engine import inference as infmod
from dashwidgets.engine import workspace as wsmod
from dashwidgets.engine.diskcache import DiskCache
from dashwidgets.engine.workspace import WorkspaceWarning

IDX = [0, 3, 5, 7]


@pytest.fixture(scope="module")
def tiny_ds() -> dw.datasets.ImageSet:
    return dw.datasets.load("colored-digits", bias=0.99, seed=0, size=16, n_train=200, n_val=50, n_test=50)


@pytest.fixture(scope="module")
def filled(tiny_ds, tmp_path_factory):
    """A workspace with two versions whose evaluations (all images, val) and gradcam maps are
    cached: (path, {name: value computed by the first engine})."""
    path = tmp_path_factory.mktemp("dc") / "ws"
    eng = dw.Engine(tiny_ds, device="cpu", workspace=path)
    v1 = eng.train(epochs=1, progress=False)
    eng.train(epochs=1, seed=1, progress=False)
    values = {"all": eng.evaluate(v1), "val": eng.evaluate(v1, "val"),
              "maps": eng.attribute(v1, IDX, "gradcam", numpy=True).copy()}
    eng.evaluate("v2")
    return path, values


@pytest.fixture
def ws(filled, tmp_path):
    """A private copy of the filled workspace: (path, values)."""
    path, values = filled
    shutil.copytree(path, tmp_path / "ws")
    return tmp_path / "ws", values


@pytest.fixture
def counted(monkeypatch):
    """Counts the model passes of evaluate and attribute: {"inference": n, "attribute": n}."""
    n = {"inference": 0, "attribute": 0}
    real_inf, real_attr = infmod.run_inference, attrmod.attribute

    def inference(*a, **k):
        n["inference"] += 1
        return real_inf(*a, **k)

    def attribute(*a, **k):
        n["attribute"] += 1
        return real_attr(*a, **k)

    monkeypatch.setattr(infmod, "run_inference", inference)
    monkeypatch.setattr(attrmod, "attribute", attribute)
    return n


def _equal(a, b) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("indices", "pred", "probs", "loss", "embedding"))


def test_reopened_engine_reads_evaluations_and_maps_without_running_the_model(ws, counted):
    path, values = ws
    eng = dw.Engine.open(path, device="cpu")
    assert _equal(eng.evaluate("v1"), values["all"])
    assert _equal(eng.evaluate("v1", "val"), values["val"])
    test = eng.evaluate("v1", "test")  # not cached itself: sliced from the all-images entry
    assert np.array_equal(test.indices, eng.dataset.indices("test"))
    assert np.array_equal(test.probs, values["all"].probs[test.indices])
    assert np.array_equal(eng.attribute("v1", IDX, "gradcam", numpy=True), values["maps"])
    assert counted == {"inference": 0, "attribute": 0}
    eng.attribute("v1", IDX[:2], "gradcam")  # another index set is another entry
    assert counted["attribute"] == 1
    info = eng.cache_info()["disk"]
    on_disk = sum(p.stat().st_size for p in (path / "cache").rglob("*.npz"))
    assert info["bytes"] == on_disk > 0 and set(info["versions"]) == {"v1", "v2"}


def test_results_under_other_settings_are_not_reused(ws, tiny_ds, counted):
    """The normalisation is part of the key: an engine reopened with another one recomputes."""
    path, values = ws
    eng = dw.Engine(tiny_ds, device="cpu", workspace=path, normalize=None)
    r = eng.evaluate("v1", "val")
    assert counted["inference"] == 1
    assert not np.array_equal(r.probs, values["val"].probs)
    eng.attribute("v1", IDX, "gradcam", target="label")  # another target set: computed
    assert counted["attribute"] == 1


def test_a_file_holding_another_key_is_a_miss(tmp_path):
    dc = DiskCache(tmp_path, {"dataset": "x"}, lambda vid: {}, lambda vid: True)
    assert dc.put("v1", "evaluate", {"split": "val"}, {"a": np.arange(3)})
    assert dc.get("v1", "evaluate", {"split": "val"})["a"].tolist() == [0, 1, 2]
    src = dc.files("v1")[0]
    dst = dc.path("v1", "evaluate", dc._full_key("v1", "evaluate", {"split": "test"}))
    shutil.copy(src, dst)  # the right name for "test", the content of "val"
    assert dc.get("v1", "evaluate", {"split": "test"}) is None


def test_truncated_cache_file_warns_is_recomputed_and_every_version_stays(ws, counted):
    path, values = ws
    for f in (path / "cache" / "v1").glob("*.npz"):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.warns(WorkspaceWarning, match="corrupted cache file .*cache/v1/"):
        eng = dw.Engine.open(path, device="cpu")
        r = eng.evaluate("v1", "val")
    assert [v.id for v in eng.versions] == ["v1", "v2"] and eng.workspace_errors == []
    assert counted["inference"] == 1 and _equal(r, values["val"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file reads back cleanly
        again = dw.Engine.open(path, device="cpu").evaluate("v1", "val")
    assert counted["inference"] == 1 and _equal(again, values["val"])


def test_discard_deletes_the_versions_cache_files_only(ws):
    path, _ = ws
    eng = dw.Engine.open(path, device="cpu")
    eng.active = "v2"
    eng.discard("v1")
    assert not (path / "cache" / "v1").exists()
    assert list((path / "cache" / "v2").glob("*.npz"))
    assert set(eng.cache_info()["disk"]["versions"]) == {"v2"}


def test_clear_cache_frees_the_disk_and_results_are_recomputed(ws, counted):
    path, values = ws
    eng = dw.Engine.open(path, device="cpu")
    eng.evaluate("v1", "val")
    before = eng.cache_info()["disk"]
    assert eng.clear_cache("v2") == before["versions"]["v2"] and "v2" not in eng.cache_info()["disk"]["versions"]
    assert eng.clear_cache() == before["versions"]["v1"]
    assert eng.cache_info()["disk"]["bytes"] == 0 and eng.cache_info()["memory"]["evaluate"] == 0
    assert _equal(eng.evaluate("v1", "val"), values["val"]) and counted["inference"] == 1
    assert [v.id for v in eng.versions] == ["v1", "v2"]


def test_unwritable_workspace_still_reads_its_cache_and_skips_writes_with_one_warning(ws, monkeypatch, counted):
    path, values = ws
    eng = dw.Engine.open(path, device="cpu")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(wsmod.tempfile, "mkstemp", full_disk)
    assert _equal(eng.evaluate("v1", "val"), values["val"]) and counted["inference"] == 0
    files = sorted(p.name for p in (path / "cache").rglob("*"))
    with pytest.warns(WorkspaceWarning, match="not cached") as record:
        eng.attribute("v2", IDX, "gradcam")
        eng.attribute("v2", IDX[:2], "gradcam")
    assert len([w for w in record if "not cached" in str(w.message)]) == 1
    assert counted["attribute"] == 2 and sorted(p.name for p in (path / "cache").rglob("*")) == files


@pytest.fixture
def cheap_tsne(monkeypatch):
    """t-SNE replaced by the first two embedding features (what matters is where maps and
    coordinates are read from); counts the fits and transforms."""
    n = {"fit": 0, "transform": 0}

    def fit(self, features, callback=None):
        n["fit"] += 1
        self.reference_features = np.asarray(features, np.float32)
        self.reference_coords = self.reference_features[:, :2].copy()
        return self.reference_coords

    def transform(self, features, callback=None):
        n["transform"] += 1
        return np.asarray(features, np.float32)[:, :2]

    monkeypatch.setattr(dw.audit.projection.TSNEMap, "fit", fit)
    monkeypatch.setattr(dw.audit.projection.TSNEMap, "transform", transform)
    return n


def test_projection_is_reread_from_the_workspace_and_a_map_of_another_layer_is_not_restored(ws, tiny_ds, cheap_tsne):
    path, _ = ws
    eng = dw.Engine.open(path, device="cpu")
    xy = eng.project("v2", progress=False)
    eng.clear_cache()  # memory and cache/: the map and its coordinates stay in projection/
    assert np.array_equal(eng.project("v2", progress=False), xy) and cheap_tsne == {"fit": 1, "transform": 0}
    layers = dw.models.layers.conv_layers(eng.model("v1"))
    other = dw.Engine(tiny_ds, device="cpu", workspace=path, embedding_layer=layers[0])
    assert other.projection_reference is None  # the map on disk is of another layer's features
    other.project("v2", progress=False)
    assert cheap_tsne["fit"] == 2
    assert dw.Engine.open(path, device="cpu").projection_reference == "v2"  # the first map is kept


def test_benchmark_script_prints_cold_warm_ratios_and_equal_results(tmp_path):
    import json
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/workspace_cache.py", "--quick", "--no-project", "--attr-n", "50", "--device", "cpu",
         "--json", str(out)], cwd=root, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for stage in ("evaluate", "attribute", "total"):
        assert re.search(rf"^{stage}\s+[\d.]+\s+[\d.]+\s+>?[\d.]+x", proc.stdout, flags=re.M), proc.stdout
    res = json.loads(out.read_text())
    assert res["equal"] == {"probs": True, "embedding": True, "maps": True}
    assert res["ratio"] == sum(res["cold_s"].values()) / sum(res["warm_s"].values()) > 0 and res["cache_mib"] > 0


# ---------------------------------------------------------------- review (issue 17): cap, device, leftovers
def _cache(root, device="cpu", max_bytes=None):
    return DiskCache(root, {"dataset": "x"}, lambda vid: {}, lambda vid: True, device=device, max_bytes=max_bytes)


def test_disk_cache_is_capped_and_evicts_least_recently_used_whole_entries(tmp_path):
    one = _cache(tmp_path / "probe")
    one.put("v1", "evaluate", {"n": 0}, {"a": np.zeros(1000)})
    size = one.files()[0].stat().st_size
    dc = _cache(tmp_path / "c", max_bytes=int(3.5 * size))
    paths = {}
    for n in (1, 2, 3):  # written in this order, dated 1000, 2000, 3000 s (no reliance on clock ticks)
        vid = "v1" if n < 3 else "v2"
        assert dc.put(vid, "evaluate", {"n": n}, {"a": np.full(1000, n, dtype=float)})
        paths[n] = dc.path(vid, "evaluate", dc._full_key(vid, "evaluate", {"n": n}))
        os.utime(paths[n], (1000 * n, 1000 * n))
    assert dc.get("v1", "evaluate", {"n": 1})["a"][0] == 1  # a read makes entry 1 the most recent
    assert dc.put("v2", "evaluate", {"n": 4}, {"a": np.full(1000, 4.0)})
    assert not paths[2].exists() and paths[1].exists() and paths[3].exists()  # only the least recent went
    assert dc.get("v1", "evaluate", {"n": 2}) is None and dc.info()["bytes"] <= dc.max_bytes
    assert not dc.put("v1", "evaluate", {"n": 5}, {"a": np.zeros(10_000)})  # larger than the cap: not written
    assert dc.info()["files"] == 3 and dc.info()["max_bytes"] == int(3.5 * size)


def test_cache_cap_comes_from_the_environment_and_bad_values_are_named(tmp_path, monkeypatch):
    from dashwidgets.engine.diskcache import DEFAULT_CACHE_MB, cache_limit_bytes

    monkeypatch.delenv("DASHWIDGETS_CACHE_MB", raising=False)
    assert _cache(tmp_path).max_bytes == DEFAULT_CACHE_MB << 20
    monkeypatch.setenv("DASHWIDGETS_CACHE_MB", "0.5")
    assert _cache(tmp_path).max_bytes == 1 << 19
    monkeypatch.setenv("DASHWIDGETS_CACHE_MB", "0")
    dc = _cache(tmp_path)
    assert not dc.put("v1", "evaluate", {}, {"a": np.arange(3)}) and dc.files() == []  # 0: nothing on disk
    for bad in ("lots", "-1", "nan"):
        with pytest.raises(ValueError, match="DASHWIDGETS_CACHE_MB"):
            cache_limit_bytes({"DASHWIDGETS_CACHE_MB": bad})


def test_a_capped_workspace_evicts_cache_entries_but_never_versions(ws, monkeypatch, counted):
    path, values = ws
    largest = max(f.stat().st_size for f in (path / "cache").rglob("*.npz"))
    monkeypatch.setenv("DASHWIDGETS_CACHE_MB", str((largest + 1) / 2**20))  # room for one entry
    eng = dw.Engine.open(path, device="cpu")
    eng.attribute("v2", IDX, "gradcam")  # a new entry: the others are evicted
    info = eng.cache_info()["disk"]
    assert info["files"] == 1 and info["bytes"] <= info["max_bytes"] and set(info["versions"]) == {"v2"}
    assert sorted(p.name for p in (path / "versions").iterdir()) == ["v1.json", "v1.pt", "v2.json", "v2.pt"]
    again = dw.Engine.open(path, device="cpu")
    assert [v.id for v in again.versions] == ["v1", "v2"] and again.workspace_errors == []
    assert _equal(again.evaluate("v1", "val"), values["val"]) and counted["inference"] == 1  # recomputed, same


def test_device_is_recorded_in_the_entry_not_in_its_key(ws, tmp_path):
    gpu = _cache(tmp_path / "c", device="cuda")
    assert gpu.put("v1", "evaluate", {"split": "val"}, {"a": np.arange(3)})
    cpu = _cache(tmp_path / "c", device="cpu")
    got = cpu.get("v1", "evaluate", {"split": "val"})  # a GPU's result is read back on the CPU
    assert set(got) == {"a"} and got["a"].tolist() == [0, 1, 2]
    assert cpu.meta("v1", "evaluate", {"split": "val"})["device"] == "cuda"
    path, _ = ws  # entries the engine writes record its device
    eng = dw.Engine.open(path, device="cpu")
    eng.clear_cache("v1", memory=True, disk=True)
    eng.evaluate("v1", "val")
    disk = eng._store.disk
    assert disk.meta("v1", "evaluate", {"split": "val", "layer": eng._ctx.embedding_layer, "n": 300})["device"] == "cpu"


def test_a_crashed_writers_temporary_files_are_deleted_once_stale(tmp_path):
    dc = _cache(tmp_path)
    assert dc.put("v1", "evaluate", {}, {"a": np.arange(3)})
    stale, fresh = tmp_path / "v1" / ".x.npz.abc.tmp", tmp_path / "v1" / ".y.npz.def.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    os.utime(stale, (1000, 1000))
    assert dc.put("v1", "evaluate", {"k": 1}, {"a": np.arange(3)})
    assert not stale.exists() and fresh.exists() and len(dc.files("v1")) == 2


def _writer(root, cap, who, n):
    dc = _cache(root, max_bytes=cap)
    for k in range(n):
        assert dc.put(f"v{k % 3 + 1}", "evaluate", {"who": who, "k": k}, {"a": np.full(500, k, dtype=float)})
        dc.get(f"v{(k + 1) % 3 + 1}", "evaluate", {"who": 1 - who, "k": k})  # read the other's entries too


def test_two_processes_writing_and_evicting_one_cache_leave_it_readable_and_within_the_cap(tmp_path):
    import multiprocessing as mp

    probe = _cache(tmp_path / "probe")
    probe.put("v1", "evaluate", {"who": 0, "k": 0}, {"a": np.zeros(500)})
    cap = 6 * probe.files()[0].stat().st_size + 100
    procs = [mp.get_context("fork").Process(target=_writer, args=(tmp_path / "c", cap, who, 30)) for who in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    dc = _cache(tmp_path / "c", max_bytes=cap)
    assert 0 < dc.info()["files"] <= 6 and dc.info()["bytes"] <= cap
    assert not [p for p in (tmp_path / "c").rglob("*.tmp")]  # no temporary file left behind
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every entry left is whole
        for f in dc.files():
            with np.load(f) as z:
                assert z["a"].shape == (500,)
