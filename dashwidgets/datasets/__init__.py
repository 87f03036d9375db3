"""Image sets: the embedded biased benchmarks and adapters for your own data."""

from .adapters import from_folder, from_tensors, from_torchvision
from .benchmarks import BENCHMARKS, load
from .imageset import SPLITS, ImageSet
from .scenes import SceneDigits
from .store import StoreError, open_store, to_store

__all__ = ["BENCHMARKS", "SPLITS", "ImageSet", "SceneDigits", "StoreError", "from_folder", "from_tensors",
           "from_torchvision", "load", "open_store", "to_store"]
