"""ClassifierBoard, MosaicView and TraceView in a real JupyterLab: train from the board and watch
losses arrive while the job runs, cancel, click mosaic cells into the gallery, trace colours."""

from __future__ import annotations

from browser_helpers import _poll

SETUP = [
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=1, progress=False)",
]


def test_train_from_the_board_live_losses_cancel_and_a_new_version(page, lab, open_notebook, screenshot):
    cells = SETUP + ["board = dw.ClassifierBoard(eng)\ngal = dw.ImageGallery(eng)\nboard"]
    nb = open_notebook(page, lab, "board.ipynb", cells, timeout=240)
    board = page.locator(".dw-board[data-ready='1']")
    board.wait_for(timeout=30_000)
    assert board.get_attribute("data-versions") == "v1"

    # a long run: at least two epoch points must arrive while it is still running
    page.locator(".dw-board input.dw-epochs").fill("60")
    page.locator(".dw-board input.dw-epochs").dispatch_event("change")
    page.locator(".dw-board button.dw-train").click()

    def two_points_while_running():
        state = board.get_attribute("data-state")
        points = board.get_attribute("data-points") or "0,0"
        train, val = map(int, points.split(","))
        return state == "running" and train >= 2 and val >= 2

    _poll(two_points_while_running, timeout=120, what="two loss points while training runs")
    assert page.locator(".dw-board .dw-train-point").count() >= 2
    assert page.locator(".dw-board .dw-val-point").count() >= 2
    assert page.locator(".dw-board polyline.dw-train-line").get_attribute("stroke") == "#d62728"
    assert page.locator(".dw-board polyline.dw-val-line").get_attribute("stroke") == "#1f77b4"
    # the kernel is free for other work meanwhile
    assert nb.kernel.eval("board.state") == "running" and nb.kernel.eval("1 + 1") == 2
    screenshot(page, "board-training")
    page.locator(".dw-board button.dw-cancel").click()
    _poll(lambda: board.get_attribute("data-state") == "cancelled", timeout=60, what="cancelled")
    assert nb.kernel.eval("[v.id for v in eng.versions]") == ["v1"]  # no partial version

    # a short run from v1 makes v2, listed with its parent; the gallery follows the active version
    page.locator(".dw-board input.dw-epochs").fill("2")
    page.locator(".dw-board input.dw-epochs").dispatch_event("change")
    page.locator(".dw-board select.dw-parent").select_option("v1")
    page.locator(".dw-board button.dw-train").click()
    _poll(lambda: board.get_attribute("data-versions") == "v1,v2", timeout=120, what="v2 in the table")
    row = page.locator(".dw-board .dw-version-row[data-version='v2']")
    assert row.locator("td").nth(2).inner_text() == "v1"
    assert nb.kernel.eval("eng.version('v2').parent") == "v1"
    _poll(lambda: nb.kernel.eval("gal.version") == "v2", what="the gallery follows the new version")

    # switch back to v1 from the table; discarding the active version is refused with a message
    page.locator(".dw-board .dw-version-row[data-version='v1'] input.dw-activate").check()
    _poll(lambda: nb.kernel.eval("eng.active.id") == "v1", what="v1 active")
    _poll(lambda: nb.kernel.eval("gal.version") == "v1", what="the gallery follows v1")
    discard = page.locator(".dw-board .dw-version-row[data-version='v1'] button.dw-discard")
    discard.click()
    page.locator(".dw-board .dw-version-row[data-version='v1'] button.dw-discard-confirm").click()
    err = page.locator(".dw-board .dw-error")
    err.wait_for(state="visible", timeout=10_000)
    assert "cannot be discarded" in err.inner_text()
    # discarding v2 needs the confirmation click, then it is gone
    page.locator(".dw-board .dw-version-row[data-version='v2'] button.dw-discard").click()
    assert nb.kernel.eval("len(eng.versions)") == 2  # one click only asks
    page.locator(".dw-board .dw-version-row[data-version='v2'] button.dw-discard-confirm").click()
    _poll(lambda: board.get_attribute("data-versions") == "v1", what="v2 discarded")
    screenshot(page, "board-versions")
    assert not [e for e in page.console_errors if "pageerror" in e]


COMPARE = SETUP + [
    "v2 = eng.retrain(v1, epochs=2, progress=False)\n"
    "mosaic = dw.MosaicView(eng, v1, v2)\n"
    "trace = dw.TraceView(eng)\n"
    "gal = dw.ImageGallery(eng, v2, page_size=1000)\n"
    "links = dw.link(mosaic, trace, gal)\n"
    "w.VBox([mosaic, trace, gal])",
]


def _cells(page):
    import json

    return json.loads(page.locator(".dw-mosaic").get_attribute("data-cells"))


def test_mosaic_cells_select_their_images_and_trace_colours_match_flips(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "mosaic.ipynb", COMPARE, timeout=240)
    page.locator(".dw-mosaic[data-ready='1']").wait_for(timeout=30_000)
    cells = _cells(page)
    cmp_cells = nb.kernel.eval("mosaic.comparison().confusion_b.tolist()")
    for c in cells:  # what is drawn is the kernel's confusion matrix
        assert c["b"] == cmp_cells[c["t"]][c["p"]]
    canvas = page.locator(".dw-mosaic canvas.dw-mosaic-canvas")
    box = canvas.bounding_box()
    big = sorted((c for c in cells if c["b"] > 0 and c["h"] > 8 and c["w"] > 8), key=lambda c: -c["b"])
    first, second = big[0], next(c for c in big[1:] if c["t"] != big[0]["t"])

    def center(c):
        return box["x"] + c["x"] + c["w"] / 2, box["y"] + c["y"] + c["h"] / 2

    page.mouse.move(*center(first))
    tip = page.locator(".dw-mosaic .dw-tooltip")
    tip.wait_for(state="visible", timeout=5_000)
    assert f"v1: {first['a']} · v2: {first['b']}" in tip.inner_text()
    page.mouse.click(*center(first))
    want = nb.kernel.eval(f"mosaic.comparison().cell({first['t']}, {first['p']}).tolist()")
    _poll(lambda: nb.kernel.eval("mosaic.selection") == want, what="the cell's images selected")
    _poll(lambda: page.locator(".dw-gallery-item").count() == len(want), what="gallery shows the cell")
    shown = sorted(int(x) for x in page.locator(".dw-gallery-item").evaluate_all("els => els.map(e => e.dataset.index)"))
    assert shown == want
    page.keyboard.down("Control")
    page.mouse.click(*center(second))
    page.keyboard.up("Control")
    more = nb.kernel.eval(f"mosaic.comparison().cell({second['t']}, {second['p']}).tolist()")
    _poll(lambda: nb.kernel.eval("gal.selection") == sorted(want + more), what="ctrl-click adds a cell")
    page.locator(".dw-mosaic").scroll_into_view_if_needed()
    screenshot(page, "mosaic-selection")

    # trace: red/blue segments are exactly the flips the engine counts
    tr = page.locator(".dw-trace[data-ready='1']")
    tr.wait_for(timeout=30_000)
    right, wrong = nb.kernel.eval("[len(eng.compare(v1, v2).became_right), len(eng.compare(v1, v2).became_wrong)]")
    assert int(tr.get_attribute("data-red")) == right
    assert int(tr.get_attribute("data-blue")) == wrong
    assert right > 0  # two more epochs fix some images
    # red pixels are really drawn
    reds = page.locator(".dw-trace canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) if (d[i] > 170 && d[i+1] < 90 && d[i+2] < 90) n++; return n; }"
    )
    assert reds > 0
    page.locator(".dw-trace select.dw-filter").select_option("became right")
    _poll(lambda: tr.get_attribute("data-shown") == str(right), what="filter keeps the images that became right")
    assert int(tr.get_attribute("data-blue")) == 0
    page.locator(".dw-trace button.dw-select-shown").click()
    want = nb.kernel.eval("sorted(eng.compare(v1, v2).became_right.tolist())")
    _poll(lambda: nb.kernel.eval("gal.selection") == want, what="select shown -> gallery")
    tr.scroll_into_view_if_needed()
    screenshot(page, "trace-became-right")
    # clicking an image's point (drawn #666) sets focus to that image
    canvas = page.locator(".dw-trace canvas.dw-trace-canvas")
    hit = canvas.evaluate(
        "c => { const r = c.getBoundingClientRect(); for (let y = 0; y < r.height; y++) for (let x = 0; x < r.width; x++) {"
        " const d = c.getContext('2d').getImageData(x * devicePixelRatio, y * devicePixelRatio, 1, 1).data;"
        " if (y > 20 && Math.abs(d[0] - 102) < 3 && d[0] === d[1] && d[1] === d[2] && d[3] === 255) return [r.left + x, r.top + y]; } return null; }"
    )
    assert hit is not None
    page.mouse.click(*hit)
    _poll(lambda: nb.kernel.eval("trace.focus") in want, what="focus on a traced image")
    assert not [e for e in page.console_errors if "pageerror" in e]
