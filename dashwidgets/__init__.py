"""dashwidgets: find and fix bias in image classifiers with linked notebook widgets.

>>> import dashwidgets as dw
>>> ds = dw.datasets.load("colored-digits", bias=0.99)
>>> eng = dw.Engine(ds)
>>> v1 = eng.train(epochs=6)
>>> print(eng.audit(v1))
"""

from . import datasets, models
from .engine import Engine, EvalResult, Job, JobCancelled, WorkspaceError, WorkspaceWarning
from .models import ModelVersion

__version__ = "0.1.0"

__all__ = [
    "Engine",
    "EvalResult",
    "Job",
    "JobCancelled",
    "ModelVersion",
    "WorkspaceError",
    "WorkspaceWarning",
    "__version__",
    "datasets",
    "models",
]
