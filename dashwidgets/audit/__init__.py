"""Analyses on tensors and arrays (no widgets): projection, the bias audit, version
comparisons and traces, UDIS subgroups and neuron activation scores (VisCUIT)."""

from .compare import CHANGES, Comparison, Trace, compare, confusion, trace
from .density import density_grids
from .neurons import highly_activated, neuron_scores
from .projection import TSNEMap
from .report import BiasAudit, bias_audit
from .subgroups import Subgroups, discover_subgroups

__all__ = [
    "CHANGES",
    "BiasAudit",
    "Comparison",
    "Subgroups",
    "TSNEMap",
    "Trace",
    "bias_audit",
    "compare",
    "confusion",
    "density_grids",
    "discover_subgroups",
    "highly_activated",
    "neuron_scores",
    "trace",
]
