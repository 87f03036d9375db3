"""Linked notebook views (anywidget). Each view asks the Engine and displays; none computes."""

from ._snapshot import set_image_budget
from .attribution import AttributionGrid
from .augment import AugmentedView, ClusterGallery
from .board import ClassifierBoard
from .compare import MosaicView, TraceView
from .concepts import ConceptWindow
from .criticism import CriticismView
from .dashboard import Dashboard
from .gallery import ImageGallery
from .link import link
from .neurons import NeuronPanel
from .projection import ProjectionView
from .regions import RegionView
from .report import AuditReport
from .subgroups import SubgroupPanel

__all__ = [
    "AttributionGrid", "AuditReport", "AugmentedView", "ClassifierBoard", "ClusterGallery", "ConceptWindow", "CriticismView", "Dashboard", "ImageGallery", "MosaicView",
    "NeuronPanel", "ProjectionView", "RegionView", "SubgroupPanel", "TraceView", "link", "set_image_budget",
]
