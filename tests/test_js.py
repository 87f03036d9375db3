"""The front end's own checks run under the README's single test command: vitest unit tests of
the shared helpers and the linter (which also forbids innerHTML with data)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[1] / "js"


def _npm(*args: str) -> subprocess.CompletedProcess:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is required to build and test the front end (Node.js 20+)")
    if not (JS / "node_modules").is_dir():
        subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True)
    return subprocess.run([npm, *args], cwd=JS, capture_output=True, text=True, timeout=300)


def test_vitest_unit_tests_pass():
    res = _npm("test", "--silent")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "passed" in out and "failed" not in out.lower().replace("0 failed", "")


def test_eslint_passes():
    res = _npm("run", "lint", "--silent")
    assert res.returncode == 0, res.stdout + res.stderr


def test_bundles_are_built_from_the_sources():
    static = Path(__file__).resolve().parents[1] / "dashwidgets" / "static"
    for view in ("projection", "gallery"):
        bundle = static / f"{view}.js"
        assert bundle.is_file(), f"{bundle} missing: pip install should have built it"
        assert "export" in bundle.read_text()[-2000:]
