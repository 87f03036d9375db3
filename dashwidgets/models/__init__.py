"""Models: the default small CNN, layer discovery for any classifier, version records."""

from .cnn import SmallCNN, build_model, default_model
from .layers import capture, conv_layers, get_layer, last_conv, pool_features
from .version import ModelVersion

__all__ = [
    "ModelVersion",
    "SmallCNN",
    "build_model",
    "capture",
    "conv_layers",
    "default_model",
    "get_layer",
    "last_conv",
    "pool_features",
]
