"""Analyses on tensors and arrays (no widgets): projection, the bias audit, and later
clustering and subgroups."""

from .density import density_grids
from .projection import TSNEMap
from .report import BiasAudit, bias_audit

__all__ = ["BiasAudit", "TSNEMap", "bias_audit", "density_grids"]
