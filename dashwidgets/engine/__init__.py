"""The Engine facade over one version store and one service per concern (see DESIGN.md)."""

from ..runtime import EvalResult, Job, JobCancelled, resolve_device
from .caches import VersionCache
from .engine import Engine
from .versions import VersionStore
from .workspace import WorkspaceError, WorkspaceWarning

__all__ = [
    "Engine", "EvalResult", "Job", "JobCancelled", "VersionCache", "VersionStore", "WorkspaceError",
    "WorkspaceWarning", "resolve_device",
]
