"""Linked notebook views (anywidget). Each view asks the Engine and displays; none computes."""

from .attribution import AttributionGrid
from .augment import AugmentedView, ClusterGallery
from .board import ClassifierBoard
from .compare import MosaicView, TraceView
from .gallery import ImageGallery
from .link import link
from .projection import ProjectionView

__all__ = ["AttributionGrid", "AugmentedView", "ClassifierBoard", "ClusterGallery", "ImageGallery", "MosaicView", "TraceView", "ProjectionView", "link"]
