"""Analyses on tensors and arrays (no widgets): projection, the bias audit, version
comparisons and traces, and later clustering and subgroups."""

from .compare import CHANGES, Comparison, Trace, compare, confusion, trace
from .density import density_grids
from .projection import TSNEMap
from .report import BiasAudit, bias_audit

__all__ = [
    "CHANGES",
    "BiasAudit",
    "Comparison",
    "TSNEMap",
    "Trace",
    "bias_audit",
    "compare",
    "confusion",
    "density_grids",
    "trace",
]
