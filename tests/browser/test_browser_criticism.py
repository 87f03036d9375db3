"""CriticismView in a real JupyterLab, light and dark: per class a row of prototypes and a row of
criticisms (the kernel's lists, in order, with step counts), the method switch changes the rows,
clicking an image focuses it, and the enrichment chart has its bars, ticks, axis title, legend
and odds ratios; while the job runs the progress bar shows and advances, and Cancel stops it
(nothing kept, the view usable again). Screenshots: ``artifacts/screenshots/criticism-<theme>.png``
(rows), ``criticism-enrichment-<theme>.png`` (the chart) and ``criticism-running-<theme>.png``."""

from __future__ import annotations

from browser_helpers import _poll, contrast

SETUP = [
    "import dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v = eng.train(epochs=2, progress=False)",
    "cv = dw.CriticismView(eng, v, sample=100)\ncv",
]


def _shown(root, role):
    return root.locator(f".dw-criticism-{role}s").evaluate_all(
        "els => els.map(r => [...r.querySelectorAll('.dw-criticism-item')].map(e => Number(e.dataset.index)))")


def _kernel(nb, role):
    return nb.kernel.eval(f"[[it['index'] for it in r['{role}s']] for r in cv.rows]")


def test_rows_method_switch_focus_and_enrichment(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"criticism-{theme}.ipynb", SETUP, timeout=240)
    root = page.locator(".dw-criticism")
    vid = nb.kernel.eval("v.id")
    page.locator(f".dw-criticism[data-rendered='{vid}|adv|aligned']").wait_for(timeout=120_000)
    assert nb.kernel.eval("cv.state") == "done"
    classes = nb.kernel.eval("cv.criticism.classes")
    assert root.locator(".dw-criticism-class h4").all_inner_texts() == [f"class {c}" for c in classes]

    # rows: the kernel's lists, in order, each image with its step count
    adv = {role: _kernel(nb, role) for role in ("prototype", "criticism")}
    for role in adv:
        assert _shown(root, role) == adv[role]
    assert sum(map(len, adv["prototype"])) > 0
    m = nb.kernel.eval("cv.max_steps")
    texts = root.locator(".dw-criticism-prototypes .dw-criticism-steps").all_inner_texts()
    assert texts and set(texts) == {"never"}, f"prototypes survive all {m} steps"
    empty = nb.kernel.eval("[r['criticism_note'] for r in cv.rows if not r['criticisms']]")
    notes = root.locator(".dw-criticism-criticisms .dw-criticism-note").all_inner_texts()
    assert notes == empty

    # the method switch changes the rows to that method's lists
    page.locator(".dw-criticism-method").select_option("prob")
    page.locator(f".dw-criticism[data-rendered='{vid}|prob|aligned']").wait_for(timeout=30_000)
    prob = {role: _kernel(nb, role) for role in ("prototype", "criticism")}
    assert prob != adv
    for role in prob:
        assert _shown(root, role) == prob[role]

    # clicking an image focuses it (linked views follow `focus`)
    item = root.locator(".dw-criticism-item").first
    index = int(item.get_attribute("data-index"))
    item.click()
    _poll(lambda: nb.kernel.eval("cv.focus") == index, what="focus = the clicked image")
    page.locator(f".dw-criticism-item.dw-focus[data-index='{index}']").first.wait_for(timeout=10_000)

    # enrichment chart: three bars per class and overall, ticks, axis title, legend, odds ratios
    enrichment = nb.kernel.eval("cv.enrichment")
    assert enrichment[-1]["class"] == "all"
    assert root.locator(".dw-criticism-fill").count() == 3 * len(enrichment)
    shares = root.locator(".dw-criticism-fill[data-set='share_class']").evaluate_all("els => els.map(e => Number(e.dataset.share))")
    assert shares == [round(r["share_class"], 6) for r in enrichment]
    assert root.locator(".dw-criticism-tick").all_inner_texts() == ["0", "0.25", "0.5", "0.75", "1"]
    assert "share of images with aligned = True" in root.locator(".dw-criticism-axis-title").inner_text()
    legend = root.locator(".dw-criticism-legend").inner_text()
    assert "prototypes" in legend and "criticisms" in legend and "class" in legend
    assert root.locator(".dw-criticism-stat").filter(has_text="odds ratio").count() == len(enrichment)

    report = contrast(page, ".dw-criticism")
    assert report["n"] > 10 and report["min"] >= 4.5, report["worst"]
    root.scroll_into_view_if_needed()
    screenshot(page, f"criticism-{theme}")
    root.locator(".dw-criticism-enrich").scroll_into_view_if_needed()
    screenshot(page, f"criticism-enrichment-{theme}")


# The attack is paced by a semaphore the test releases one batch at a time, so the bar is seen at
# known widths (10 batches of 8 images: each is 10 %); the real job, trait sync and buttons run.
PACED = [
    "import threading, dashwidgets as dw\n"
    "from dashwidgets.engine import criticism as service\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=200, n_val=40, n_test=80)\n"
    "eng = dw.Engine(ds, eval_batch_size=16)  # the attack runs 8 images per batch\n"
    "v = eng.train(epochs=1, progress=False)\n"
    "gate, attack = threading.Semaphore(0), service.ifgsm_steps\n"
    "def paced(*a, progress, **k):\n"
    "    def one(n):\n"
    "        gate.acquire(timeout=120)\n"
    "        progress(n)\n"
    "    return attack(*a, progress=one, **k)\n"
    "service.ifgsm_steps = paced",
    "cv = dw.CriticismView(eng, v)\ncv",
]


def test_progress_bar_advances_and_cancel_stops_the_job(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"criticism-progress-{theme}.ipynb", PACED, timeout=240)
    root = page.locator(".dw-criticism[data-state='running']")
    root.wait_for(timeout=60_000)
    bar = root.locator(".dw-progress-bar")
    progress, cancel, rerun = root.locator(".dw-progress"), root.locator("button.dw-cancel"), root.locator("button.dw-criticism-run")
    assert progress.evaluate("e => getComputedStyle(e).visibility") == "visible"
    assert cancel.is_visible() and not rerun.is_visible()
    assert "criticising" in root.locator(".dw-criticism-status").inner_text()
    assert bar.evaluate("e => e.style.width") == "0%"

    widths = []
    for k in (1, 2, 3):
        page.wait_for_timeout(350)  # the view sends at most one progress update per 0.25 s
        nb.kernel.exec("gate.release()")
        _poll(lambda k=k: bar.evaluate("e => e.style.width") == f"{10 * k}%", timeout=60, what=f"the bar at {10 * k}%")
        widths.append(bar.bounding_box()["width"])
        assert nb.kernel.eval("cv.state") == "running"
    assert 0 < widths[0] < widths[1] < widths[2] < progress.bounding_box()["width"]
    report = contrast(page, ".dw-criticism")
    assert report["min"] >= 4.5, report["worst"]
    screenshot(page, f"criticism-running-{theme}")

    cancel.click()
    _poll(lambda: nb.kernel.eval("cv.message") == "cancelling…", what="the cancel request in the kernel")
    nb.kernel.exec("gate.release()")  # the next batch sees the stop request
    page.locator(".dw-criticism[data-state='cancelled']").wait_for(timeout=60_000)
    assert nb.kernel.eval("cv.job.status") == "cancelled"
    assert nb.kernel.eval("cv.criticism is None and cv.rows == [] and cv.progress < 1")
    assert nb.kernel.eval("eng.caches['criticism_steps'].keys(v.id) + eng.caches['criticism'].keys(v.id)") == []
    view = page.locator(".dw-criticism")
    assert view.locator(".dw-criticism-class").count() == 0 and view.get_attribute("data-rendered") == ""
    assert view.locator(".dw-progress").evaluate("e => getComputedStyle(e).visibility") == "hidden"
    assert not view.locator("button.dw-cancel").is_visible() and view.locator("button.dw-criticism-run").is_visible()
    assert "cancelled" in view.locator(".dw-criticism-status").inner_text()

    # usable again: Criticize runs it to the end
    nb.kernel.exec("gate.release(100)")
    view.locator("button.dw-criticism-run").click()
    vid = nb.kernel.eval("v.id")
    page.locator(f".dw-criticism[data-state='done'][data-rendered='{vid}|adv|aligned']").wait_for(timeout=120_000)
    assert view.locator(".dw-criticism-class").count() == nb.kernel.eval("len(cv.rows)") > 0
    assert view.locator(".dw-progress").evaluate("e => getComputedStyle(e).visibility") == "hidden"
