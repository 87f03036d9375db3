"""ProjectionView's first frame: the engine's image snapshot (a WebP atlas of every thumbnail,
seconds to build the first time) is not on the path to the first points frame."""

from __future__ import annotations

import asyncio
import weakref

import dashwidgets as dw
from dashwidgets.widgets import _snapshot
from dashwidgets.widgets._snapshot import snapshot_for


def test_first_snapshot_is_built_after_the_cell_in_a_kernel_loop(trained, monkeypatch):
    eng, v = trained
    monkeypatch.setattr(_snapshot, "_snapshots", weakref.WeakKeyDictionary())  # none built yet

    async def cell():  # IPython runs a cell inside the kernel's event loop
        view = dw.ProjectionView(eng, v)
        assert view.snapshot is None  # the points go to the browser first
        assert len(view.xy) == len(eng.dataset) and len(view.label) == len(eng.dataset)
        await asyncio.sleep(0)  # the cell is over: the loop runs the deferred build
        return view

    view = asyncio.run(cell())
    assert view.snapshot is not None and view.snapshot is snapshot_for(eng)

    async def second_cell():  # once built, later views point at it at once
        return dw.ProjectionView(eng, v).snapshot

    assert asyncio.run(second_cell()) is view.snapshot


def test_without_an_event_loop_the_snapshot_is_there_at_once(trained, monkeypatch):
    eng, v = trained
    monkeypatch.setattr(_snapshot, "_snapshots", weakref.WeakKeyDictionary())
    view = dw.ProjectionView(eng, v)
    assert view.snapshot is not None and view.snapshot is snapshot_for(eng)
