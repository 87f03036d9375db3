"""AuditReport from Python: its findings are the engine's report in its order, thumbnails index one
atlas, "Apply fix" makes the augmentation the finding suggests, and bad input shows in the view."""

from __future__ import annotations

import pytest

import dashwidgets as dw
from dashwidgets.widgets.report import AuditReport

SAMPLE = 60


@pytest.fixture(scope="module")
def eng(small_ds):
    e = dw.Engine(small_ds, device="cpu")
    e.train(epochs=2, progress=False)
    return e


def _view(eng, **kw):
    view = AuditReport(eng, sample=SAMPLE, **kw)
    assert view.wait(600), "the report job did not end"
    return view


def test_findings_are_the_engines_report_in_its_order(eng):
    view = _view(eng)
    assert view.state == "done" and view.progress == 1.0 and view.error == ""
    rep = eng.report(eng.active, sample=SAMPLE, progress=False)
    assert view.report is rep and view.rendered == rep.version
    assert [(f["rank"], f["kind"], f["title"]) for f in view.findings] == [
        (i, f.kind, f.title) for i, f in enumerate(rep.findings, 1)]
    cells = []
    for row, f in zip(view.findings, rep.findings, strict=True):
        assert row["significant"] == f.significant and row["p_value"] == pytest.approx(f.p_value)
        assert [e["index"] for e in row["evidence"]] == f.evidence.tolist()
        assert len(row["probed"]) == (0 if f.probed is None else len(f.probed))
        assert row["fix"] == (f.fix_text() if f.fix else "")
        cells += [e["cell"] for e in row["evidence"] + row["probed"]]
    assert cells == list(range(len(cells))) and (not cells or view.atlas[:4] == b"\x89PNG")
    top = rep.top
    assert view.verdict == ("no finding passes its significance threshold" if top is None
                            else f"top finding: {top.kind} — {top.title}")


def test_apply_fix_makes_the_suggested_augmentation(eng):
    view = _view(eng)
    rank = next(f["rank"] for f in view.findings if f["fix"])
    before = len(eng.augmentations)
    view._on_msg(view, {"action": "apply", "rank": rank}, [])
    assert view.error == "" and len(eng.augmentations) == before + 1
    assert view.applied == [eng.augmentations[-1].id]
    fix = view.report.findings[rank - 1].fix
    assert sorted(eng.augmentations[-1].sources.tolist()) == sorted(fix["source_idx"].tolist())
    view._on_msg(view, {"action": "apply", "rank": 99}, [])
    assert "rank must be 1 to" in view.error


def test_bad_arguments_are_refused(eng):
    with pytest.raises(ValueError, match="sample must be an integer >= 20"):
        AuditReport(eng, sample=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        AuditReport(eng, verison="v1")
    with pytest.raises(ValueError, match="unknown version"):
        AuditReport(eng, version="v99")
