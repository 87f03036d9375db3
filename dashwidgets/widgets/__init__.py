"""Linked notebook views (anywidget). Each view asks the Engine and displays; none computes."""

from .gallery import ImageGallery
from .link import link
from .projection import ProjectionView

__all__ = ["ImageGallery", "ProjectionView", "link"]
