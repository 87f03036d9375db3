"""The house rules that keep the package simple, checked on the source (DESIGN.md, layers):
data flows one way, and no module grows past ~400 lines without saying why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dashwidgets"

# What each package may import from dashwidgets (itself always). Lower layers never import
# higher ones: analyses never import the engine or widgets; the engine never imports widgets.
ALLOWED = {
    "runtime": set(),
    "datasets": {"runtime"},
    "models": {"runtime"},
    "train": {"runtime", "models"},
    "explain": {"runtime", "models"},
    "audit": {"runtime", "datasets", "models"},
    "augment": {"runtime", "datasets", "models"},
    "engine": {"runtime", "datasets", "models", "train", "explain", "audit", "augment"},
    "widgets": {"runtime", "datasets", "models", "train", "explain", "audit", "augment", "engine"},
}
MAX_LINES = 400


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "static" not in p.parts)


def _imported_packages(path: Path) -> set[str]:
    """Top-level dashwidgets packages a module imports (relative or absolute, anywhere in it)."""
    rel = path.relative_to(PKG)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "dashwidgets" and len(parts) > 1:
                    out.add(parts[1])
                continue
            base = list(rel.parts[:-1])[: len(rel.parts) - node.level]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                out.add(target[0])
            else:  # "from .. import x" at the package root names packages directly
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "dashwidgets" and len(parts) > 1:
                    out.add(parts[1])
    return out


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_module_imports_a_higher_layer(layer):
    bad = []
    for path in (PKG / layer).rglob("*.py"):
        extra = _imported_packages(path) - ALLOWED[layer] - {layer}
        # packages and top-level modules (cli, demo sit above every layer), not names like __version__
        extra = {e for e in extra if (PKG / e).is_dir() or (PKG / f"{e}.py").is_file()}
        if extra:
            bad.append(f"{path.relative_to(PKG)} imports {sorted(extra)}")
    assert not bad, "layer rule broken:\n" + "\n".join(bad)


def test_top_level_modules_are_only_the_entry_points():
    """A new module belongs in a layer: one at the package root would escape the layer rule."""
    assert sorted(p.stem for p in PKG.glob("*.py")) == ["__init__", "__main__", "cli", "demo"]


def test_the_checker_sees_a_violation(tmp_path):
    # the rule must be able to fail: a module of train/ that imports the engine is caught
    fake = PKG / "train" / "_layer_probe.py"
    fake.write_text("from ..engine import Engine\n")
    try:
        assert "engine" in _imported_packages(fake)
    finally:
        fake.unlink()


def test_no_module_over_400_lines_without_a_stated_reason():
    long = []
    for path in _modules():
        text = path.read_text()
        n = len(text.splitlines())
        doc = ast.get_docstring(ast.parse(text)) or ""
        if n > MAX_LINES and f"over {MAX_LINES} lines" not in doc:
            long.append(f"{path.relative_to(PKG)}: {n} lines")
    assert not long, f"split these modules or say in their docstring why they are over {MAX_LINES} lines: {long}"
