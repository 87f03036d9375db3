"""The Engine: one hub for data, model versions, cached inference and background jobs."""

from .device import resolve_device
from .engine import Engine  # noqa: I001 - last: it imports the modules above
from .evaluation import EvalResult
from .jobs import Job, JobCancelled
from .workspace import WorkspaceError, WorkspaceWarning

__all__ = ["Engine", "EvalResult", "Job", "JobCancelled", "WorkspaceError", "WorkspaceWarning", "resolve_device"]
