"""Training: the loop shared by blocking and background runs, and its configuration."""

from .loop import OPTIMIZERS, TrainConfig, fit

__all__ = ["OPTIMIZERS", "TrainConfig", "fit"]
