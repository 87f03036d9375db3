"""ProjectionView's first frame: the engine's image snapshot (a WebP atlas of every thumbnail,
1-2 s to build the first time) is not on the path to the first points frame. In IPython it is
built in the cell's ``post_run_cell`` event: after the cell displayed the view, still within
the cell (a notebook's saved widget state, as ``dashwidgets export`` writes it, holds it)."""

from __future__ import annotations

import types
import weakref

import IPython
from IPython.core.events import EventManager, available_events

import dashwidgets as dw
from dashwidgets.widgets import _snapshot
from dashwidgets.widgets._snapshot import snapshot_for


def _shell(monkeypatch, msg_type="execute_request"):
    """A stand-in for ipykernel's shell handling a message of ``msg_type``."""
    shell = types.SimpleNamespace(parent_header={"header": {"msg_type": msg_type}})
    shell.events = EventManager(shell, available_events)
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    return shell


def test_first_snapshot_is_built_at_the_end_of_the_cell(trained, monkeypatch):
    eng, v = trained
    monkeypatch.setattr(_snapshot, "_snapshots", weakref.WeakKeyDictionary())  # none built yet
    shell = _shell(monkeypatch)
    view = dw.ProjectionView(eng, v)
    assert view.snapshot is None  # the points go to the browser first
    assert len(view.xy) == len(eng.dataset) and len(view.label) == len(eng.dataset)
    shell.events.trigger("post_run_cell", None)  # the cell has run (and displayed the view)
    assert view.snapshot is not None and view.snapshot is snapshot_for(eng)
    assert not shell.events.callbacks["post_run_cell"]  # once, not after every later cell
    # once built, later views point at it at once
    assert dw.ProjectionView(eng, v).snapshot is view.snapshot


def test_without_ipython_the_snapshot_is_there_at_once(trained, monkeypatch):
    eng, v = trained
    monkeypatch.setattr(_snapshot, "_snapshots", weakref.WeakKeyDictionary())
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    view = dw.ProjectionView(eng, v)
    assert view.snapshot is not None and view.snapshot is snapshot_for(eng)


def test_a_view_made_in_a_widget_callback_gets_the_snapshot_at_once(trained, monkeypatch):
    # e.g. the dashboard's Audit tab built when clicked: no post_run_cell event follows a comm message
    eng, v = trained
    monkeypatch.setattr(_snapshot, "_snapshots", weakref.WeakKeyDictionary())
    shell = _shell(monkeypatch, msg_type="comm_msg")
    view = dw.ProjectionView(eng, v)
    assert view.snapshot is not None and view.snapshot is snapshot_for(eng)
    assert not shell.events.callbacks["post_run_cell"]
