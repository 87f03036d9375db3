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


def test_bundles_are_built_from_the_current_sources(tmp_path):
    """Every bundle in dashwidgets/static is what the build makes from the sources now: the build
    (js/build.mjs, wherever it keeps its list of views) is run on a copy of js/, and its output
    must equal dashwidgets/static file for file. A bundle left over from older sources (edited
    js/ without `npm run build`), a missing one or a stray one fails here."""
    _npm("--version")  # npm present, node_modules installed
    root = JS.parent
    static = root / "dashwidgets" / "static"
    copy = tmp_path / "js"
    shutil.copytree(JS, copy, ignore=shutil.ignore_patterns("node_modules", "tests"))
    (copy / "node_modules").symlink_to(JS / "node_modules", target_is_directory=True)
    shutil.copy(root / "pyproject.toml", tmp_path / "pyproject.toml")  # if the build reads it
    res = subprocess.run(["node", "build.mjs"], cwd=copy, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    built = {p.name: p.read_bytes() for p in (tmp_path / "dashwidgets" / "static").glob("*.js")}
    assert built, "the build made no bundles"
    shipped = {p.name: p.read_bytes() for p in static.glob("*.js")}
    assert sorted(shipped) == sorted(built), "dashwidgets/static differs from the build's bundles: run `npm run build` in js/"
    stale = [name for name in built if shipped[name] != built[name]]
    assert not stale, f"stale bundles {stale}: js/ changed since they were built; run `npm run build` in js/"
    # pip install must make (and a wheel must carry) every bundle the build makes
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
        import tomli as tomllib

    hook = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    ensured = {Path(t).name for t in hook["ensured-targets"]}
    assert ensured == set(built), f"pyproject's ensured-targets {sorted(ensured)} != the build's bundles {sorted(built)}"


def test_every_view_loads_a_bundle_the_build_makes():
    """Each widget class's ``_esm`` names a bundle in dashwidgets/static (checked above to be
    current): a view whose bundle the build forgot would load nothing in the browser."""
    import anywidget

    from dashwidgets import widgets

    static = JS.parent / "dashwidgets" / "static"
    views = [getattr(widgets, n) for n in widgets.__all__]
    views = [v for v in views if isinstance(v, type) and issubclass(v, anywidget.AnyWidget)]
    assert len(views) >= 8, views
    for v in views:
        esm = getattr(v._esm, "_path", v._esm)  # anywidget wraps a file path in FileContents
        assert isinstance(esm, (str, Path)) and len(str(esm)) < 500, (v.__name__, "_esm is not a bundle file")
        assert Path(esm).parent == static and Path(esm).is_file(), (v.__name__, esm)
