"""CriticismView from Python: its rows and enrichment are the engine's criticism, the method
switch re-reads it without recomputing, a click focuses an image, and bad input shows in the view."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import dashwidgets as dw
from dashwidgets.widgets.criticism import CriticismView

SAMPLE = 80


@pytest.fixture(scope="module")
def eng(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    e.train(epochs=2, progress=False)
    return e


def _view(eng, **kw):
    view = CriticismView(eng, sample=SAMPLE, **kw)
    assert view.wait(300), "the criticism job did not end"
    return view


def test_rows_and_enrichment_are_the_engines_criticism(eng):
    view = _view(eng)
    assert view.state == "done" and view.progress == 1.0
    cr = eng.criticize(eng.active, split="test", sample=SAMPLE)
    assert view.criticism.indices.tolist() == cr.indices.tolist()
    steps = dict(zip(cr.indices.tolist(), cr.steps.tolist(), strict=True))
    assert [r["class"] for r in view.rows] == cr.classes
    shown = []
    for k, row in enumerate(view.rows):
        for role, fn in (("prototype", cr.prototypes), ("criticism", cr.criticisms)):
            try:
                expected = fn(k, "adv")
            except ValueError as e:  # a class without correct images: said in the row and the error
                assert row[f"{role}_note"] == (str(e) if role == "prototype" else "none: see above")
                assert row[f"{role}s"] == [] and (str(e) == view.error or repr(cr.classes[k]) in view.error)
                continue
            items = row[f"{role}s"]
            assert [it["index"] for it in items] == expected[: view.per_row].tolist()
            assert row[f"n_{role}s"] == len(expected)
            assert all(it["steps"] == steps[it["index"]] for it in items)
            if role == "prototype":
                assert all(it["steps"] == cr.max_steps + 1 for it in items)
            else:
                assert all(it["steps"] == 1 for it in items)
            assert (row[f"{role}_note"] == "") == bool(len(expected))
            shown += [it["cell"] for it in items]
    assert shown == list(range(len(shown))) and view.atlas[:4] == b"\x89PNG"
    # enrichment of `aligned` = True, per class and over all
    assert view.attribute == "aligned" and "aligned" in view.attributes
    table = cr.enrichment("aligned", "adv")
    table = table[table["value"] == True]  # noqa: E712
    assert [r["class"] for r in view.enrichment] == table["class"].tolist() and view.enrichment[-1]["class"] == "all"
    for r, (_, t) in zip(view.enrichment, table.iterrows(), strict=True):
        assert r["n_prototypes"] == t["n_prototypes"] and r["n_criticisms"] == t["n_criticisms"]
        assert r["share_class"] == pytest.approx(t["share_class"], abs=1e-6)
        if np.isnan(t["p_value"]):
            assert r["p_value"] is None
        else:
            assert r["p_value"] == pytest.approx(t["p_value"], abs=1e-6)
    assert view.rendered == f"{eng.active.id}|adv|aligned"


def test_method_switch_shows_that_methods_lists(eng):
    view = _view(eng)
    cr = view.criticism
    for m in ("mmd", "prob", "adv"):
        view.method = m
        assert view.criticism is cr  # re-read, not recomputed
        for k, row in enumerate(view.rows):
            try:
                protos, crits = cr.prototypes(k, m), cr.criticisms(k, m)
            except ValueError:
                continue
            assert [it["index"] for it in row["prototypes"]] == protos[: view.per_row].tolist()
            assert [it["index"] for it in row["criticisms"]] == crits[: view.per_row].tolist()
        assert view.rendered.split("|")[1] == m
    view.method = "prob"
    if (cr.summary("prob")["n"] > 0).all():  # every class has images: the probability baseline draws from all
        assert view.error == ""
    empty = [r for r in view.rows if not r["criticisms"] and r["criticism_note"]]
    assert all(r["criticism_note"].startswith("no criticism") for r in empty)


def test_focus_and_bad_input(eng):
    view = _view(eng)
    item = next(it for r in view.rows for it in r["prototypes"] + r["criticisms"])
    view.focus = item["index"]  # what a click sends
    assert view.focus == item["index"]
    with pytest.raises(traitlets.TraitError):
        view.method = "gradcam"
    assert "unknown criticism method 'gradcam'" in view.error and view.method == "adv"
    with pytest.raises(traitlets.TraitError):
        view.attribute = "colour"
    assert "unknown boolean attribute 'colour'" in view.error
    with pytest.raises(ValueError, match="unknown criticism method"):
        CriticismView(eng, method="lime")
    with pytest.raises(ValueError, match="split"):
        CriticismView(eng, split="nope")


def test_model_errors_and_cancel_show_in_the_view(eng, monkeypatch):
    view = _view(eng)

    def broken(*a, **k):
        raise RuntimeError("model exploded")
    monkeypatch.setattr(eng, "criticize_async", broken)
    view.run()
    assert view.state == "failed" and "model exploded" in view.error and view.rows == []
    monkeypatch.undo()
    # a fresh computation (another seed) cancelled: the state says so and the button can rerun it
    view.params["seed"] = 1
    job = view.run()
    job.cancel()
    assert view.wait(300)
    assert view.state in ("cancelled", "done")  # the job may have finished before the cancel
    view._on_msg(view, {"action": "run"}, [])
    assert view.wait(300) and view.state == "done" and view.rows


def test_a_view_without_a_version_follows_the_active_one(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    v1 = e.train(epochs=1, progress=False)
    view = CriticismView(e, sample=40, method="prob")
    assert view.wait(300) and view.rendered.startswith(f"{v1.id}|prob|")
    view._settled.clear()
    v2 = e.train(epochs=1, progress=False)  # the engine's active version changes
    assert view.version == v2.id
    assert view.wait(300) and view.rendered.startswith(f"{v2.id}|prob|")
    assert view.criticism.version == v2.id


def test_progress_events_reach_the_trait_and_cancel_keeps_nothing(monkeypatch):
    """The job's step events move ``progress`` while ``state`` is "running"; Cancel (the button's
    message) ends the job as "cancelled" with no result in the view or the engine's caches, and
    the view can criticise again."""
    import threading
    import time

    from dashwidgets.engine import criticism as criticism_service

    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=60, n_val=0, n_test=40)
    e = dw.Engine(ds, device="cpu", eval_batch_size=8)  # the attack runs 4 images per batch: 10 batches
    v = e.train(epochs=1, progress=False)
    gate, attack = threading.Semaphore(0), criticism_service.ifgsm_steps

    def paced(*args, progress, **kwargs):  # each batch waits for the test to let it report
        def one(k):
            assert gate.acquire(timeout=60), "the test never let the batch through"
            progress(k)
        return attack(*args, progress=one, **kwargs)

    monkeypatch.setattr(criticism_service, "ifgsm_steps", paced)
    view = CriticismView(e, v, method="adv")  # the job starts here and waits at its first batch
    seen = []
    view.observe(lambda ch: seen.append((view.state, ch["new"])), "progress")
    assert view.state == "running" and view.progress == 0.0 and view.criticism is None
    for k in (1, 2, 3):
        time.sleep(view._progress_interval + 0.05)  # updates are throttled, not queued
        gate.release()
        deadline = time.monotonic() + 60
        while view.progress != pytest.approx(k * 4 / 40) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert seen == [("running", pytest.approx(k * 0.1)) for k in (1, 2, 3)]
    steps = [ev["progress"] for ev in view.job.events if ev["type"] == "step"]
    assert steps == pytest.approx([0.1, 0.2, 0.3])

    view._on_msg(view, {"action": "cancel"}, [])  # what the Cancel button sends
    assert view.message == "cancelling…"
    gate.release()  # the next batch notices the stop request
    assert view.wait(60) and view.job.status == "cancelled"
    assert view.state == "cancelled" and "cancelled" in view.message and view.error == ""
    assert view.criticism is None and view.rows == [] and view.rendered == ""
    assert view.progress < 1.0 and all(p < 1.0 for _, p in seen)
    assert not e.caches["criticism_steps"].keys(v.id) and not e.caches["criticism"].keys(v.id)

    # usable again: the Criticize button's message runs it to the end
    gate.release(100)
    view._on_msg(view, {"action": "run"}, [])
    assert view.wait(300) and view.state == "done" and view.progress == 1.0
    assert view.rendered == f"{v.id}|adv|aligned" and view.criticism is e.criticize(v, methods=("adv", "mmd", "prob"))
