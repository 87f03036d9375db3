"""The bottom layer every other package may import: background jobs (progress events, cancel),
device choice and mixed precision, and result types. It imports nothing else from dashwidgets."""

from .device import autocast, needs_grad_scaler, resolve_device
from .jobs import Cancelled, Job, JobCancelled
from .results import EvalResult

__all__ = ["Cancelled", "EvalResult", "Job", "JobCancelled", "autocast", "needs_grad_scaler", "resolve_device"]
