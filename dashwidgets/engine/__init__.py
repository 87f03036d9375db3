"""The Engine: one hub for data, model versions, cached inference and background jobs."""

from .device import resolve_device
from .evaluation import EvalResult
from .jobs import Job, JobCancelled
from .workspace import WorkspaceError, WorkspaceWarning
from .engine import Engine  # noqa: I001 - last: it imports the modules above

__all__ = ["Engine", "EvalResult", "Job", "JobCancelled", "WorkspaceError", "WorkspaceWarning", "resolve_device"]
