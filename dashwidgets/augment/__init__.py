"""Augmentation toward a style: the cluster-conditioned translator (XploreGAN-style GAN),
classical transforms (colour statistics, background swap, targeted mask / noise, torchvision) and
the Augmentation record the engine keeps."""

from .classical import background_swap, color_transfer, fill_object, targeted, top_regions
from .record import METHODS, Augmentation
from .translate import Translator, train_translator

__all__ = [
    "METHODS", "Augmentation", "Translator", "background_swap", "color_transfer", "fill_object", "targeted",
    "top_regions", "train_translator",
]
