"""Image sets: the embedded biased benchmarks and adapters for your own data."""

from .adapters import from_folder, from_tensors, from_torchvision
from .benchmarks import BENCHMARKS, load
from .imageset import SPLITS, ImageSet

__all__ = ["BENCHMARKS", "SPLITS", "ImageSet", "from_folder", "from_tensors", "from_torchvision", "load"]
