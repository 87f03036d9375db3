"""Background jobs: long work in a thread with progress events, cancel and result."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any


class JobCancelled(Exception):
    """Raised by :meth:`Job.result` when the job was cancelled before it finished."""


class Cancelled(Exception):
    """Raised inside a job's work function when it notices the stop request."""


class Job:
    """Runs ``work(emit, stop)`` in a daemon thread.

    ``work`` receives ``emit(event: dict)`` to report progress and a ``threading.Event`` it should
    check between steps (raising :class:`Cancelled` when set). Events are kept in ``events`` and
    passed to every listener added with :meth:`on_event` (called from the worker thread).

    Attributes
    ----------
    status : {"running", "done", "failed", "cancelled"}
    events : list of dict
        Every event so far, each with ``"type"`` and ``"time"``.
    """

    def __init__(self, work: Callable[[Callable[[dict], None], threading.Event], Any], name: str = "job"):
        self.name = name
        self.status = "running"
        self.events: list[dict] = []
        self.exception: BaseException | None = None
        self.traceback: str | None = None
        self._result: Any = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict], None]] = []
        self._thread = threading.Thread(target=self._run, args=(work,), name=f"dashwidgets-{name}", daemon=True)
        self._thread.start()

    # -------------------------------------------------------------- worker side
    def _emit(self, event: dict) -> None:
        event = {"time": time.time(), **event}
        with self._lock:
            self.events.append(event)
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(event)
            except Exception:  # a broken listener must not kill the job
                traceback.print_exc()

    def _run(self, work) -> None:
        final: dict
        try:
            self._result = work(self._emit, self._stop)
            self.status = "done"
            final = {"type": "done"}
        except Cancelled:
            self.status = "cancelled"
            final = {"type": "cancelled"}
        except BaseException as e:  # noqa: BLE001 - re-raised from result()
            self.exception = e
            self.traceback = traceback.format_exc()
            self.status = "failed"
            final = {"type": "failed", "error": f"{type(e).__name__}: {e}"}
        # done before the final event, so a listener may call result() without waiting on itself
        self._done.set()
        self._emit(final)

    # -------------------------------------------------------------- caller side
    def on_event(self, fn: Callable[[dict], None], replay: bool = True) -> None:
        """Call ``fn(event)`` for every future event (and, with ``replay``, the past ones)."""
        with self._lock:
            self._listeners.append(fn)
            past = list(self.events) if replay else []
        for ev in past:
            fn(ev)

    def cancel(self) -> None:
        """Ask the job to stop at its next check; :meth:`result` then raises JobCancelled."""
        self._stop.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds pass); True when it ended."""
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> Any:
        """The work's return value; re-raises its exception; JobCancelled when cancelled."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"job {self.name!r} still running after {timeout} s")
        if self.status == "cancelled":
            raise JobCancelled(f"job {self.name!r} was cancelled")
        if self.exception is not None:
            raise self.exception
        return self._result

    @property
    def progress(self) -> float:
        """Fraction done in [0, 1], from the latest event that carries ``"progress"``."""
        with self._lock:
            for ev in reversed(self.events):
                if "progress" in ev:
                    return float(ev["progress"])
        return 1.0 if self.status == "done" else 0.0

    def __repr__(self) -> str:
        return f"Job({self.name!r}, status={self.status!r}, progress={self.progress:.0%})"
