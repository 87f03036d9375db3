"""Engine.report: findings from the engine's evidence, fixes that eng.augment takes as they are."""

from __future__ import annotations

import numpy as np
import pytest

from dashwidgets.audit.findings import Report


@pytest.fixture(scope="module")
def report(converged):
    eng, v = converged
    return eng.report(v, sample=100, progress=False)


def test_report_ranks_findings_with_tests_evidence_and_numbers(converged, report):
    eng, v = converged
    assert isinstance(report, Report) and report.version == v.id
    kinds = [f.kind for f in report.findings]
    assert {"colour", "patch", "background", "gap"} <= set(kinds)
    alphas = {f.alpha for f in report.findings}
    assert alphas == {0.01 / len(report.findings)}  # Bonferroni over the report's tests
    for f in report.findings:
        assert 0.0 <= f.p_value <= 1.0 and f.test
        assert f.images.shape == (len(f.evidence), 3, 32, 32)
        assert (f.images == eng.dataset.images[f.evidence]).all()
        if f.probed is not None:  # the edited copies the model got wrong, one per evidence image
            assert len(f.probed) == len(f.evidence)
    gap = next(f for f in report.findings if f.kind == "gap")
    assert gap.numbers["val_accuracy"] == pytest.approx(eng.evaluate(v, "val").accuracy)
    assert gap.numbers["test_accuracy"] == pytest.approx(eng.evaluate(v, "test").accuracy)
    assert not eng.evaluate(v).correct[gap.evidence].any()  # evidence of a gap: wrong test images
    # probe evidence: images the model had right and gets wrong once the cue is edited away
    for f in report.findings:
        if f.kind in ("colour", "patch", "background") and len(f.evidence):
            assert eng.evaluate(v).correct[f.evidence].all()
            assert (eng.predict(v, f.probed)["pred"] != eng.dataset.labels[f.evidence]).all()
    assert eng.report(v, sample=100, progress=False) is report  # cached


def test_every_fix_is_accepted_by_augment_as_it_is(converged, report):
    eng, _ = converged
    fixes = [f.fix for f in report.findings if f.fix is not None]
    assert fixes
    before = len(eng.augmentations)
    for fix in fixes:
        aug = eng.augment(**fix)
        assert np.array_equal(aug.sources, np.sort(fix["source_idx"]))
    assert len(eng.augmentations) == before + len(fixes)


def test_report_text_lists_the_ranking_and_bad_arguments_are_refused(converged, report):
    eng, v = converged
    text = report.to_text()
    for i, f in enumerate(report.findings, 1):
        assert f"{i}. [{f.kind}]" in text
    with pytest.raises(ValueError, match="sample must be an integer >= 20"):
        eng.report(v, sample=5)
    with pytest.raises(TypeError, match="criticize must be True or False"):
        eng.report_async(v, criticize="yes")
    with pytest.raises(ValueError, match="unknown version"):
        eng.report("v999")


def test_report_async_gives_the_same_report(converged, report):
    eng, v = converged
    job = eng.report_async(v, sample=100)
    assert job.result(timeout=600) is report  # the blocking call's cached result
