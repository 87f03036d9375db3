"""The list of views is written once (js/views.json): the build reads it, every view's ``_esm``
comes from its ``_bundle`` name, and nothing else keeps a copy that could drift."""

from __future__ import annotations

import json
import re
from pathlib import Path

import tomllib

import dashwidgets.widgets as w
from dashwidgets.widgets._base import STATIC, View

ROOT = Path(__file__).resolve().parents[2]
VIEWS = json.loads((ROOT / "js" / "views.json").read_text())


def _view_classes() -> list[type]:
    return [c for c in (getattr(w, n) for n in w.__all__) if isinstance(c, type) and issubclass(c, View)]


def test_every_view_names_a_bundle_the_build_makes():
    classes = _view_classes()
    assert len(classes) >= 8
    for cls in classes:
        assert cls._bundle in VIEWS, f"{cls.__name__}._bundle={cls._bundle!r} is not in js/views.json"
        assert (ROOT / "js" / f"{cls._bundle}.js").is_file(), f"js/{cls._bundle}.js (entry of {cls.__name__}) is missing"
    # and the build makes nothing no view uses
    assert sorted({c._bundle for c in classes}) == sorted(VIEWS)
    assert len(VIEWS) == len(set(VIEWS))


def test_esm_is_derived_from_the_bundle_name():
    for cls in _view_classes():
        esm = cls._esm
        # anywidget swaps a path for its FileContents; either way it is static/<bundle>.js
        path = Path(getattr(esm, "_path", esm))
        assert path.resolve() == (STATIC / f"{cls._bundle}.js").resolve(), (cls.__name__, esm)


def test_build_reads_the_list_and_pyproject_targets_match_it():
    build = (ROOT / "js" / "build.mjs").read_text()
    assert "views.json" in build
    for name in VIEWS:  # no second copy of the list in the build script
        assert f'"{name}"' not in build, f"js/build.mjs names {name!r} itself; read it from views.json"
    # hatch cannot read views.json, so pyproject repeats it; a drifted copy fails here
    hook = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    targets = [re.fullmatch(r"dashwidgets/static/(\w+)\.js", t).group(1) for t in hook["ensured-targets"]]
    # plus embed.js, the widget manager of exported pages (no view; dashwidgets/runtime/export.py)
    assert "embed" in build and targets == VIEWS + ["embed"], f"pyproject's ensured-targets {targets} != js/views.json {VIEWS}"


def test_the_built_bundles_match_the_list():
    built = {p.stem for p in STATIC.glob("*.js")}
    missing = (set(VIEWS) | {"embed"}) - built
    assert not missing, f"the build did not make {sorted(missing)} (run `npm run build` in js/)"
