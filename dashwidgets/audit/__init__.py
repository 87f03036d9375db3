"""Analyses on tensors and arrays (no widgets): projection, the bias audit, and later
clustering and subgroups."""

from .projection import TSNEMap
from .report import BiasAudit, bias_audit

__all__ = ["BiasAudit", "TSNEMap", "bias_audit"]
