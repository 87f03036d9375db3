"""Linked notebook views (anywidget). Each view asks the Engine and displays; none computes."""

from .attribution import AttributionGrid
from .gallery import ImageGallery
from .link import link
from .projection import ProjectionView

__all__ = ["AttributionGrid", "ImageGallery", "ProjectionView", "link"]
