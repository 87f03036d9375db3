"""Workspace persistence: atomic writes, restart round trip, corrupted files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

import dashwidgets as dw
from dashwidgets.engine import workspace as wsmod


@pytest.fixture
def ws_engine(small_ds, tmp_path):
    path = tmp_path / "ws"
    eng = dw.Engine(small_ds, workspace=path)
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    return eng, path, v1, v2


def test_layout_and_no_temporary_files_left(ws_engine):
    eng, path, v1, v2 = ws_engine
    names = sorted(p.name for p in (path / "versions").iterdir())
    assert names == ["v1.json", "v1.pt", "v2.json", "v2.pt"]
    assert (path / "workspace.json").is_file() and (path / "dataset.npz").is_file()
    assert not [p for p in path.rglob("*.tmp")]
    rec = json.loads((path / "versions" / "v2.json").read_text())
    assert rec["parent"] == "v1" and rec["hparams"]["epochs"] == 1


def test_restart_in_a_new_process_gives_identical_predictions(ws_engine, tmp_path):
    """A new process reading the workspace predicts exactly what this one does. Bit-identity holds
    only for the same reduction order, so both sides run on one thread (the kernel's thread count
    depends on the machine); against the original engine (two threads here) the probabilities
    agree to float32 reduction-order error: ~1e-7 relative per sum, atol 1e-5 on probabilities."""
    eng, path, v1, v2 = ws_engine
    out = tmp_path / "probs.npy"
    code = textwrap.dedent(
        f"""
        import numpy as np, torch, dashwidgets as dw
        torch.set_num_threads(1)
        eng = dw.Engine.open({str(path)!r})
        assert [v.id for v in eng.versions] == ["v1", "v2"], eng.versions
        assert eng.version("v2").parent == "v1"
        np.save({str(out)!r}, eng.evaluate("v2", "test").probs)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = dw.Engine.open(path).evaluate("v2", "test").probs
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(np.load(out), expected)
    np.testing.assert_allclose(np.load(out), eng.evaluate(v2, "test").probs, atol=1e-5)


def test_open_restores_versions_history_and_lineage(ws_engine):
    eng, path, v1, v2 = ws_engine
    again = dw.Engine.open(path)
    assert again.versions == [v1, v2]
    assert again.version("v2").lineage == v2.lineage
    assert again.version("v2").history == v2.history
    assert [h["event"] for h in again.history] == ["train", "train"]
    assert again.train(epochs=1, progress=False).id == "v3"


def test_engine_on_an_existing_workspace_resumes_it(ws_engine, small_ds):
    eng, path, v1, v2 = ws_engine
    again = dw.Engine(small_ds, workspace=path)
    assert [v.id for v in again.versions] == ["v1", "v2"]


def test_workspace_of_another_dataset_is_refused(ws_engine):
    eng, path, *_ = ws_engine
    other = dw.datasets.load("colored-digits", n_train=100, n_val=20, n_test=20)
    with pytest.raises(dw.WorkspaceError, match="made for another dataset"):
        dw.Engine(other, workspace=path)


def test_corrupted_weights_are_reported_by_name_and_others_load(ws_engine):
    eng, path, v1, v2 = ws_engine
    bad = path / "versions" / "v1.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.warns(dw.WorkspaceWarning, match="corrupted weights file .*v1.pt"):
        again = dw.Engine.open(path)
    assert [v.id for v in again.versions] == ["v2"]
    assert any("v1.pt" in e for e in again.workspace_errors)
    v3 = again.train(epochs=1, progress=False)
    assert v3.id == "v3"  # the broken v1 is neither reused nor overwritten
    assert bad.read_bytes() == b"not a torch file"


def test_corrupted_record_is_reported_by_name(ws_engine):
    eng, path, v1, v2 = ws_engine
    (path / "versions" / "v2.json").write_text("{ this is not json")
    with pytest.warns(dw.WorkspaceWarning, match="corrupted version record .*v2.json"):
        again = dw.Engine.open(path)
    assert [v.id for v in again.versions] == ["v1"]


def test_weights_that_need_arbitrary_unpickling_are_refused(ws_engine):
    eng, path, v1, v2 = ws_engine
    torch.save({"payload": _Evil()}, path / "versions" / "v1.pt")
    with pytest.warns(dw.WorkspaceWarning, match="v1.pt"):
        again = dw.Engine.open(path)
    assert [v.id for v in again.versions] == ["v2"]
    assert not _Evil.ran


class _Evil:
    ran = False

    def __reduce__(self):
        return (_Evil._run, ())

    @staticmethod
    def _run():
        _Evil.ran = True
        return "owned"


def test_weights_of_another_architecture_are_reported(ws_engine):
    eng, path, v1, v2 = ws_engine
    torch.save({"conv.weight": torch.zeros(2)}, path / "versions" / "v2.pt")
    with pytest.warns(dw.WorkspaceWarning, match="weights of v2 do not fit"):
        again = dw.Engine.open(path)
    assert [v.id for v in again.versions] == ["v1"]


def test_lone_weights_file_from_an_interrupted_save_is_ignored(ws_engine):
    eng, path, v1, v2 = ws_engine
    (path / "versions" / "v2.json").unlink()
    with pytest.warns(dw.WorkspaceWarning, match="incomplete version v2"):
        again = dw.Engine.open(path)
    assert [v.id for v in again.versions] == ["v1"]
    assert again.train(epochs=1, progress=False).id == "v3"


def test_crash_while_saving_leaves_no_half_version(small_ds, tmp_path, monkeypatch):
    path = tmp_path / "ws"
    eng = dw.Engine(small_ds, workspace=path)
    eng.train(epochs=1, progress=False)
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("v2.pt"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(wsmod.os, "replace", failing_replace)
    # the save fails after the work is done: the version stays in this kernel, and the warning
    # says how to save it elsewhere; the workspace holds no half version
    with pytest.warns(RuntimeWarning, match=r"v2 could not be saved .*disk full.*torch.save\(eng.model\('v2'\)"):
        v2 = eng.train(epochs=1, progress=False)
    monkeypatch.setattr(wsmod.os, "replace", real_replace)
    assert [v.id for v in eng.versions] == ["v1", "v2"] and eng.model(v2) is not None
    assert sorted(p.name for p in (path / "versions").iterdir()) == ["v1.json", "v1.pt"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [v.id for v in dw.Engine.open(path).versions] == ["v1"]


@pytest.mark.parametrize("content", [None, b"garbage", b'{"format": "something-else"}'])
def test_missing_or_corrupted_header_is_a_clear_error(tmp_path, content):
    path = tmp_path / "ws"
    path.mkdir()
    if content is not None:
        (path / "workspace.json").write_bytes(content)
    with pytest.raises(dw.WorkspaceError, match="workspace"):
        dw.Engine.open(path)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(dw.WorkspaceError, match="not found"):
        dw.Engine.open(tmp_path / "nowhere")


def test_discard_deletes_the_files(ws_engine):
    eng, path, v1, v2 = ws_engine
    eng.discard(v1)
    assert sorted(p.name for p in (path / "versions").iterdir()) == ["v2.json", "v2.pt"]
    again = dw.Engine.open(path)
    assert [v.id for v in again.versions] == ["v2"]
    assert [h["event"] for h in again.history][-1] == "discard"


def test_custom_model_workspace_needs_the_model_to_reopen(small_ds, tmp_path):
    from torchvision.models import resnet18

    sub = small_ds.subset(np.r_[0:60, 600:620, 750:770])
    path = tmp_path / "ws"
    eng = dw.Engine(sub, model=resnet18(num_classes=10), workspace=path)
    v = eng.train(epochs=1, batch_size=30, progress=False)
    with pytest.raises(dw.WorkspaceError, match="custom model.*pass model="):
        dw.Engine.open(path)
    again = dw.Engine.open(path, model=resnet18(num_classes=10))
    np.testing.assert_allclose(again.evaluate(v.id, "test").probs, eng.evaluate(v, "test").probs, atol=1e-5)


def test_projection_is_kept_in_the_workspace(small_ds, tmp_path, monkeypatch):
    sub = small_ds.subset(np.r_[0:200, 600:650, 750:850])
    path = tmp_path / "ws"
    eng = dw.Engine(sub, workspace=path)
    v1 = eng.train(epochs=1, progress=False)
    v2 = eng.retrain(v1, epochs=1, progress=False)
    xy1, xy2 = eng.project(v1, progress=False), eng.project(v2, progress=False)

    def no_tsne(*a, **k):
        raise AssertionError("t-SNE recomputed")

    monkeypatch.setattr(dw.audit.projection.TSNEMap, "fit", no_tsne)
    monkeypatch.setattr(dw.audit.projection.TSNEMap, "transform", no_tsne)
    again = dw.Engine.open(path)
    np.testing.assert_array_equal(again.project("v1", progress=False), xy1)
    np.testing.assert_array_equal(again.project("v2", progress=False), xy2)
    assert again.projection_reference == "v1"


def test_workspace_of_another_architecture_is_refused(ws_engine, small_ds):
    eng, path, *_ = ws_engine
    with pytest.raises(dw.WorkspaceError, match="made with another architecture"):
        dw.Engine(small_ds, model=dw.models.SmallCNN(10, widths=(8, 16)), workspace=path)
