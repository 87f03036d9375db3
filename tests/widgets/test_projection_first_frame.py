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


def _record_updates(monkeypatch):
    """Every state update the views send: a list of (state keys, {key: dtype}) in order."""
    sent = []
    original = dw.ProjectionView._send

    def record(self, msg, buffers=None):
        if msg.get("method") == "update":
            state = msg["state"]
            sent.append((set(state), {k: v.get("dtype") for k, v in state.items() if isinstance(v, dict)}))
        return original(self, msg, buffers)

    monkeypatch.setattr(dw.ProjectionView, "_send", record)
    return sent


def test_loss_and_confidence_follow_the_cell_and_class_codes_travel_as_uint8(trained, monkeypatch):
    # 8 of the 23 MB at 10^6 points: not before the view is displayed, but still within the cell
    eng, v = trained
    shell = _shell(monkeypatch)
    sent = _record_updates(monkeypatch)
    view = dw.ProjectionView(eng, v)
    first = set().union(*(keys for keys, _ in sent))
    assert {"xy", "label", "pred", "correct"} <= first
    assert not first & {"loss", "confidence"}
    assert len(view.loss) == len(eng.dataset)  # the kernel's value is whole all along
    dtypes = {k: d for _, ds in sent for k, d in ds.items()}
    assert dtypes["label"] == dtypes["pred"] == "uint8"  # <= 256 classes
    assert view.label.dtype.name == "uint16"  # the Python trait keeps its dtype
    before = len(sent)
    shell.events.trigger("post_run_cell", None)
    stats = [(keys, dtypes) for keys, dtypes in sent[before:] if "loss" in keys]
    assert stats == [({"loss", "confidence"}, {"loss": "float32", "confidence": "float32"})]
    assert not shell.events.callbacks["post_run_cell"]
    n = len(sent)
    view.loss = view.loss + 1  # later changes travel as any other trait's
    assert len(sent) == n + 1 and sent[-1][0] == {"loss"}


def test_outside_a_cell_loss_and_confidence_go_with_the_points(trained, monkeypatch):
    eng, v = trained
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    sent = _record_updates(monkeypatch)
    dw.ProjectionView(eng, v)
    assert {"loss", "confidence", "xy"} <= set().union(*(keys for keys, _ in sent))
