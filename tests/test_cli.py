"""The README's main job: ``dashwidgets audit BENCHMARK``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dashwidgets.cli import main


def test_audit_prints_the_bias_audit(capsys, tmp_path):
    ws = tmp_path / "ws"
    rc = main(["audit", "patch-digits", "--epochs", "1", "--workspace", str(ws)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Audit of version v1" in out
    for word in ("accuracy", "aligned_accuracy", "conflicting_accuracy", "Per-class accuracy", "val − test"):
        assert word in out
    assert (ws / "versions" / "v1.pt").exists()
    # a second start reuses the trained version from the workspace
    rc = main(["audit", "patch-digits", "--epochs", "1", "--workspace", str(ws)])
    assert rc == 0 and "reusing v1" in capsys.readouterr().out


def test_audit_rejects_bad_arguments(capsys):
    assert main(["audit", "colored-digits", "--bias", "1.5"]) == 2
    assert "bias must be a number in [0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "no-such-benchmark"])


def test_module_entry_point_and_version():
    out = subprocess.run(
        [sys.executable, "-m", "dashwidgets", "--version"], capture_output=True, text=True, check=True
    ).stdout
    import dashwidgets

    assert out.strip() == dashwidgets.__version__
    res = subprocess.run([sys.executable, "-m", "dashwidgets"], capture_output=True, text=True)
    assert res.returncode == 2 and "audit" in res.stdout


def test_audit_of_a_workspace_prints_the_ranked_report(capsys, tmp_path):
    import dashwidgets as dw

    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=300, n_val=100, n_test=100)
    eng = dw.Engine(ds, device="cpu", workspace=tmp_path / "ws")
    eng.train(epochs=1, progress=False)
    rc = main(["audit", str(tmp_path / "ws"), "--sample", "50", "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "auditing its active version v1" in out and "Audit of version v1" in out
    assert "Suspected biases of version v1" in out
    rep = eng.report("v1", sample=50, progress=False)  # the same ranking the terminal shows
    for i, f in enumerate(rep.findings, 1):
        assert f"{i}. [{f.kind}] {f.title}" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["audit", str(empty)]) == 2  # a folder that is not a workspace: a clear error
    assert "error" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", str(tmp_path / "missing")])
