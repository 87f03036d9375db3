"""Analyses on tensors and arrays (no widgets): projection, the bias audit, version
comparisons and traces, UDIS subgroups and neuron activation scores (VisCUIT), model criticism,
the ranked suspected biases of Engine.report (findings)."""

from .compare import CHANGES, Comparison, Trace, compare, confusion, trace
from .criticism import Criticism, ifgsm_steps
from .density import density_grids
from .findings import Finding, Report
from .mmd_critic import mmd_critic
from .neurons import highly_activated, neuron_scores
from .projection import TSNEMap, neighbourhood_recall
from .report import BiasAudit, bias_audit
from .subgroups import Subgroups, discover_subgroups

__all__ = [
    "CHANGES",
    "BiasAudit",
    "Comparison",
    "Criticism",
    "Finding",
    "Report",
    "Subgroups",
    "TSNEMap",
    "Trace",
    "bias_audit",
    "compare",
    "confusion",
    "density_grids",
    "discover_subgroups",
    "highly_activated",
    "ifgsm_steps",
    "mmd_critic",
    "neighbourhood_recall",
    "neuron_scores",
    "trace",
]
