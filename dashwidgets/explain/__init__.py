"""Attribution maps and the metrics that score them against ground-truth masks."""

from .attribution import METHODS, attribute
from .bias import BiasReport, bias_report
from .metrics import ece, reliability, rma, rra
from .perturbation import AOPCResult, aopc

__all__ = ["METHODS", "AOPCResult", "BiasReport", "aopc", "attribute", "bias_report", "ece", "reliability", "rma", "rra"]
