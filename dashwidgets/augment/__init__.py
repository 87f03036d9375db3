"""Augmentation toward a style: classical transforms (colour statistics, background swap,
targeted mask / noise, torchvision) and the Augmentation record the engine keeps."""

from .classical import background_swap, color_transfer, fill_object, targeted, top_regions
from .record import METHODS, Augmentation

__all__ = ["METHODS", "Augmentation", "background_swap", "color_transfer", "fill_object", "targeted", "top_regions"]
