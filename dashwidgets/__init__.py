"""dashwidgets: find and fix bias in image classifiers with linked notebook widgets.

>>> import dashwidgets as dw
>>> ds = dw.datasets.load("colored-digits", bias=0.99)
>>> eng = dw.Engine(ds)
>>> v1 = eng.train(epochs=6)
>>> print(eng.audit(v1))
"""

from . import audit, augment, datasets, explain, models
from .engine import Engine, EvalResult, Job, JobCancelled, WorkspaceError, WorkspaceWarning
from .explain import metrics
from .models import ModelVersion
from .runtime import figures
from .runtime.executor import BatchError, RayExecutor
from .runtime.export import export_html

__version__ = "0.1.0"

_WIDGETS = {"AttributionGrid", "AuditReport", "AugmentedView", "ClassifierBoard", "ClusterGallery", "ConceptWindow", "CriticismView", "Dashboard", "ImageGallery", "MosaicView", "NeuronPanel", "ProjectionView", "RegionView", "SubgroupPanel", "TraceView", "link", "set_image_budget"}


def __getattr__(name: str):
    # Views load lazily: the engine works without the front-end bundle or a notebook.
    if name in _WIDGETS:
        from . import widgets

        return getattr(widgets, name)
    if name in ("widgets", "demo"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dashwidgets' has no attribute {name!r}")

__all__ = [
    "AttributionGrid",
    "AuditReport",
    "AugmentedView",
    "BatchError",
    "ClassifierBoard",
    "ClusterGallery",
    "ConceptWindow",
    "CriticismView",
    "Dashboard",
    "Engine",
    "EvalResult",
    "Job",
    "JobCancelled",
    "ImageGallery",
    "ModelVersion",
    "MosaicView",
    "NeuronPanel",
    "ProjectionView",
    "RayExecutor",
    "RegionView",
    "SubgroupPanel",
    "TraceView",
    "WorkspaceError",
    "WorkspaceWarning",
    "__version__",
    "audit",
    "augment",
    "datasets",
    "explain",
    "export_html",
    "figures",
    "link",
    "metrics",
    "models",
    "set_image_budget",
]
