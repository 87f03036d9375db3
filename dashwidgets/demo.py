"""The demo: a ready-trained engine on the colored-digits benchmark and the quickstart notebook.

``dashwidgets demo`` (see :mod:`dashwidgets.cli`) calls :func:`prepare` on the demo folder, copies
the quickstart notebook there and opens it in JupyterLab. The notebook itself starts with

>>> import dashwidgets as dw
>>> eng, v1 = dw.demo.engine()

which opens the same workspace (the folder comes from ``DASHWIDGETS_DEMO_DIR``, set by the
command), so nothing is trained twice. Without the command, the folder defaults to
``~/.cache/dashwidgets/demo`` and the first call trains the model there (about half a minute on a
laptop CPU).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keep ``import dashwidgets`` light
    from .engine import Engine
    from .models import ModelVersion

BENCHMARK = "colored-digits"
BIAS = 0.99
SEED = 0
EPOCHS = 6
NOTEBOOK = "quickstart.ipynb"
ENV_DIR = "DASHWIDGETS_DEMO_DIR"


def default_directory() -> Path:
    """``$DASHWIDGETS_DEMO_DIR``, else ``~/.cache/dashwidgets/demo``."""
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dashwidgets" / "demo"


def _say(msg: str, verbose: bool) -> None:
    if verbose:
        print(msg, flush=True)


def prepare(directory: str | os.PathLike, verbose: bool = True) -> tuple[Engine, ModelVersion]:
    """Open (or create) the demo workspace ``<directory>/workspace`` and return ``(engine, v1)``.

    Generates the colored-digits benchmark (bias 0.99, seed 0), trains the default model for 6
    epochs only when the workspace holds no such version yet, and computes its t-SNE projection
    (cached in the workspace). A second call therefore only loads: a few seconds.
    """
    from .datasets import load
    from .engine import Engine

    directory = Path(directory).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    workspace = directory / "workspace"

    t0 = time.perf_counter()
    _say(f"generating the {BENCHMARK} benchmark (bias {BIAS}, seed {SEED})...", verbose)
    ds = load(BENCHMARK, bias=BIAS, seed=SEED)
    _say(f"  {ds}  ({time.perf_counter() - t0:.1f} s)", verbose)

    eng = Engine(ds, workspace=workspace, seed=SEED)
    version = eng.trained_from_scratch(epochs=EPOCHS, seed=SEED)
    if version is not None:
        _say(f"reusing the trained model {version.id} from {eng.workspace}", verbose)
    else:
        _say(f"training the default model on {eng.device} ({EPOCHS} epochs; done once, kept in {workspace})...", verbose)
        t0 = time.perf_counter()
        version = eng.train(epochs=EPOCHS, seed=SEED, progress=verbose)
        acc = version.metrics.get("val_accuracy")
        extra = f", val accuracy {acc:.3f}" if isinstance(acc, float) else ""
        _say(f"  trained {version.id} in {time.perf_counter() - t0:.1f} s{extra}", verbose)

    t0 = time.perf_counter()
    _say(f"projecting the embeddings of {version.id} with t-SNE (cached after the first time)...", verbose)
    eng.project(version, progress=verbose)
    _say(f"  projection ready ({time.perf_counter() - t0:.1f} s)", verbose)
    return eng, version


def engine(directory: str | os.PathLike | None = None, verbose: bool = True) -> tuple[Engine, ModelVersion]:
    """``(engine, v1)`` of the demo workspace; see :func:`prepare`. ``directory`` defaults to
    :func:`default_directory`."""
    return prepare(default_directory() if directory is None else directory, verbose=verbose)


def notebook_source() -> Path:
    """The quickstart notebook shipped with the package (wheel), else the repository's copy."""
    from importlib import resources

    try:
        packaged = resources.files("dashwidgets") / "_notebooks" / NOTEBOOK
        if packaged.is_file():
            with resources.as_file(packaged) as p:
                return Path(p)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    repo = Path(__file__).resolve().parent.parent / "notebooks" / NOTEBOOK
    if repo.is_file():
        return repo
    raise FileNotFoundError(
        f"the {NOTEBOOK} notebook is neither in the installed package (dashwidgets/_notebooks) "
        f"nor at {repo}; reinstall dashwidgets"
    )


def copy_notebook(directory: str | os.PathLike) -> tuple[Path, bool]:
    """Copy the quickstart notebook into ``directory`` unless a copy (maybe edited) is already
    there. Returns ``(path, copied)``."""
    target = Path(directory).expanduser() / NOTEBOOK
    if target.exists():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook_source(), target)
    return target, True
