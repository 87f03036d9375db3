"""AuditReport in a real JupyterLab, light and dark: the kernel's ranked findings in order, each
with its kind, title, effect bar (width = effect) and margin line, p against its threshold,
evidence and probed thumbnails drawn from the atlas, the fix; the axis title and legend; clicking
a thumbnail focuses it; "Apply fix" makes the augmentation in the kernel. Screenshots:
``artifacts/screenshots/report-<theme>.png``."""

from __future__ import annotations

from browser_helpers import _poll, contrast

SETUP = [
    "import dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)\n"
    "eng = dw.Engine(ds)\n"
    "v = eng.train(epochs=6, progress=False)",
    "rv = dw.AuditReport(eng, v, sample=100, criticize=False)\nrv",
]


def test_ranked_findings_evidence_focus_and_apply_fix(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"report-{theme}.ipynb", SETUP, timeout=300)
    vid = nb.kernel.eval("v.id")
    root = page.locator(f".dw-report[data-state='done'][data-rendered='{vid}']")
    root.wait_for(timeout=240_000)
    findings = nb.kernel.eval("[(f['rank'], f['kind'], f['title'], f['effect'], f['significant']) for f in rv.findings]")
    assert findings
    cards = root.locator(".dw-report-finding")
    assert cards.count() == len(findings)
    assert cards.evaluate_all("els => els.map(e => [Number(e.dataset.rank), e.dataset.kind])") == [
        [r, k] for r, k, *_ in findings]
    titles = root.locator(".dw-report-finding h4").all_inner_texts()
    for (r, k, t, *_), shown in zip(findings, titles, strict=True):
        assert k in shown and f"{r}. {t}" in shown
    # the effect bars: width = effect (0-100 points over the track), the margin at 10 %
    widths = root.locator(".dw-report-fill").evaluate_all("els => els.map(e => parseFloat(e.style.width))")
    assert widths == [round(max(0.0, min(100.0, 100 * e)), 2) for _, _, _, e, _ in findings]
    assert set(root.locator(".dw-report-margin").evaluate_all("els => els.map(e => e.style.left)")) == {"10%"}
    sig = root.locator(".dw-report-line").filter(has_text="points ·").all_inner_texts()
    for (*_, s), text in zip(findings, sig, strict=True):
        assert ("not significant" not in text) == s
    assert "effect (accuracy points)" in root.locator(".dw-report-axis-title").inner_text()
    legend = root.locator(".dw-legend").inner_text()
    assert "significant" in legend and "not significant" in legend and "margin" in legend
    verdict = nb.kernel.eval("rv.verdict")
    assert root.locator(".dw-report-verdict").inner_text() == verdict

    # thumbnails: the kernel's evidence indices, drawn (not blank) from the atlas
    evidence = nb.kernel.eval("[[e['index'] for e in f['evidence']] for f in rv.findings]")
    shown = cards.evaluate_all("els => els.map(c => [...c.querySelectorAll('.dw-report-evidence .dw-report-thumb')].map(t => Number(t.dataset.index)))")
    assert shown == evidence and any(evidence)
    drawn = root.locator(".dw-report-thumb canvas").first.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i+1] + d[i+2]; return s; }")
    assert drawn > 0
    thumb = root.locator(".dw-report-thumb").first
    index = int(thumb.get_attribute("data-index"))
    thumb.click()
    _poll(lambda: nb.kernel.eval("rv.focus") == index, what="focus = the clicked thumbnail")

    report = contrast(page, ".dw-report")
    assert report["n"] > 10 and report["min"] >= 4.5, report["worst"]
    root.scroll_into_view_if_needed()
    screenshot(page, f"report-{theme}")

    # Apply fix: the augmentation the finding suggests, made in the kernel
    before = nb.kernel.eval("len(eng.augmentations)")
    root.locator("button.dw-report-apply").first.click()
    page.locator(".dw-report[data-applied='1']").wait_for(timeout=120_000)
    assert nb.kernel.eval("len(eng.augmentations)") == before + 1
    assert nb.kernel.eval("rv.applied == [eng.augmentations[-1].id] and rv.error == ''")
