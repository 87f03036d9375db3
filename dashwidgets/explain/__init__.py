"""Attribution maps and the metrics that score them against ground-truth masks."""

from .attribution import METHODS, attribute
from .metrics import rma, rra

__all__ = ["METHODS", "attribute", "rma", "rra"]
