"""ClassifierBoard, MosaicView and TraceView in a real JupyterLab: every version's curves overlaid
and toggled, live points within an epoch, cancel, a version trained from Python, Export CSV, the
dark theme; click mosaic cells into the gallery, trace colours."""

from __future__ import annotations

from browser_helpers import _poll, contrast, luminance

SETUP = [
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=1, progress=False)",
]


BOARD = [
    "import ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=2, progress=False)",
    "board = dw.ClassifierBoard(eng, progress_interval=0.05)\ngal = dw.ImageGallery(eng)\nboard",
]


def _paths(page, chart, version):
    return page.locator(f".dw-board svg.{chart} path.dw-curve[data-version='{version}']")


def _set(page, selector, value):
    page.locator(f".dw-board {selector}").fill(str(value))
    page.locator(f".dw-board {selector}").dispatch_event("change")


def test_board_overlays_versions_live_points_cancel_python_versions_and_csv(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "board.ipynb", BOARD, timeout=240)
    board = page.locator(".dw-board[data-ready='1']")
    board.wait_for(timeout=30_000)
    assert board.get_attribute("data-versions") == "v1"
    assert board.get_attribute("data-curves") == "v1"

    # a second version from the board: both overlaid, each its own colour, train solid, val dashed
    _set(page, "input.dw-epochs", 2)
    page.locator(".dw-board select.dw-parent").select_option("v1")
    page.locator(".dw-board button.dw-train").click()
    _poll(lambda: board.get_attribute("data-versions") == "v1,v2", timeout=120, what="v2 in the table")
    _poll(lambda: board.get_attribute("data-state") == "done", timeout=60, what="job done")
    assert board.get_attribute("data-curves") == "v1,v2"
    for v in ("v1", "v2"):
        kinds = _paths(page, "dw-loss-chart", v).evaluate_all("ps => ps.map(p => [p.classList.contains('dw-curve-val'), p.getAttribute('stroke-dasharray')])")
        assert sorted(kinds) == [[False, "none"], [True, "6 4"]], (v, kinds)
        assert _paths(page, "dw-acc-chart", v).count() == 1  # val accuracy per epoch
    colours = {v: _paths(page, "dw-loss-chart", v).first.get_attribute("stroke") for v in ("v1", "v2")}
    assert colours["v1"] != colours["v2"]
    legend = page.locator(".dw-board .dw-board-legend")
    assert [t.strip() for t in legend.locator(".dw-curve-toggle").all_inner_texts()] == ["v1", "v2"]
    assert "solid: train" in legend.inner_text() and "dashed: val" in legend.inner_text()
    # axes: titles and tick values on both axes; x ticks are whole epochs
    loss, acc = page.locator(".dw-board svg.dw-loss-chart"), page.locator(".dw-board svg.dw-acc-chart")
    assert loss.locator(".dw-x-title").text_content() == "epoch" and loss.locator(".dw-y-title").text_content() == "loss"
    assert acc.locator(".dw-x-title").text_content() == "epoch" and "accuracy (%)" in acc.locator(".dw-y-title").text_content()
    for chart in (loss, acc):
        yt = [float(t) for t in chart.locator(".dw-ytick").all_text_contents()]
        xt = chart.locator(".dw-xtick").all_text_contents()
        assert 4 <= len(yt) <= 7 and yt == sorted(yt) and xt == ["0", "1", "2"]
        # the x title sits below the tick values, not on them
        assert chart.locator(".dw-x-title").bounding_box()["y"] >= chart.locator(".dw-xtick").first.bounding_box()["y"] + 8
    # the toggle hides one version's curves and brings them back
    page.locator(".dw-board input.dw-show-curve[data-version='v1']").uncheck()
    assert _paths(page, "dw-loss-chart", "v1").count() == 0 and _paths(page, "dw-loss-chart", "v2").count() == 2
    assert board.get_attribute("data-curves") == "v2"
    page.locator(".dw-board input.dw-show-curve[data-version='v1']").check()
    assert _paths(page, "dw-loss-chart", "v1").count() == 2
    screenshot(page, "board-overlay")

    # a long run in small batches: the live curve gets points within the first epoch
    _set(page, "input.dw-epochs", 60)
    _set(page, "input.dw-batch", 16)
    page.locator(".dw-board button.dw-train").click()
    _poll(lambda: board.get_attribute("data-state") == "running" and int(board.get_attribute("data-live-points")) >= 3,
          timeout=120, what="three live points while training runs")
    xs = nb.kernel.eval("[p[0] for p in board.batch_loss]")
    assert any(0 < x < 1 for x in xs), xs  # within epoch 1, in fractional epochs
    live = page.locator(".dw-board svg.dw-loss-chart .dw-series[data-key='live-batch'] path")
    assert int(live.get_attribute("data-n")) >= 3
    assert "live run" in legend.inner_text()
    assert nb.kernel.eval("board.state") == "running" and nb.kernel.eval("1 + 1") == 2  # kernel free
    screenshot(page, "board-live")
    page.locator(".dw-board button.dw-cancel").click()
    _poll(lambda: board.get_attribute("data-state") == "cancelled", timeout=60, what="cancelled")
    assert nb.kernel.eval("[v.id for v in eng.versions]") == ["v1", "v2"]  # no partial version
    # the finished versions' curves stay; the partial one is marked cancelled
    assert _paths(page, "dw-loss-chart", "v1").count() == 2 and _paths(page, "dw-loss-chart", "v2").count() == 2
    assert "cancelled run" in legend.inner_text() and board.get_attribute("data-curves") == "v1,v2,live"

    # a version trained from Python shows in the table, the curves and the status line
    nb.kernel.exec("v3 = eng.train(epochs=2, lr=0.002, progress=False)")
    _poll(lambda: board.get_attribute("data-versions") == "v1,v2,v3", timeout=120, what="v3 in the table")
    _poll(lambda: page.locator(".dw-board .dw-job-status").inner_text().startswith("trained v3 (2 epoch(s) from scratch"),
          what="status names v3")
    assert _paths(page, "dw-loss-chart", "v3").count() == 2

    # Export CSV: the download is the hyper-parameter table of every version
    with page.expect_download() as info:
        page.locator(".dw-board button.dw-export-csv").click()
    import csv
    import io
    from pathlib import Path

    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert list(rows[0]) == nb.kernel.eval("list(board.hparams_table().columns)")
    assert [r["version"] for r in rows] == ["v1", "v2", "v3"] and [r["parent"] for r in rows] == ["", "v1", ""]
    for r in rows:
        hp = nb.kernel.eval(f"eng.version('{r['version']}').hparams")
        assert int(r["epochs"]) == hp["epochs"] and float(r["lr"]) == hp["lr"] and int(r["batch_size"]) == hp["batch_size"]
        assert float(r["val_accuracy"]) == nb.kernel.eval(f"board.hparams_table().set_index('version').loc['{r['version']}', 'val_accuracy']")

    # switch to v1 from the table; discarding the active version is refused with a message
    page.locator(".dw-board .dw-version-row[data-version='v1'] input.dw-activate").check()
    _poll(lambda: nb.kernel.eval("eng.active.id") == "v1", what="v1 active")
    _poll(lambda: nb.kernel.eval("gal.version") == "v1", what="the gallery follows v1")
    _poll(lambda: "v1 is active" in page.locator(".dw-board .dw-job-status").inner_text(), what="status names v1")
    page.locator(".dw-board .dw-version-row[data-version='v1'] button.dw-discard").click()
    page.locator(".dw-board .dw-version-row[data-version='v1'] button.dw-discard-confirm").click()
    err = page.locator(".dw-board .dw-error")
    err.wait_for(state="visible", timeout=10_000)
    assert "cannot be discarded" in err.inner_text()
    # discarding v3 needs the confirmation click, then it is gone, with its curves
    page.locator(".dw-board .dw-version-row[data-version='v3'] button.dw-discard").click()
    assert nb.kernel.eval("len(eng.versions)") == 3  # one click only asks
    page.locator(".dw-board .dw-version-row[data-version='v3'] button.dw-discard-confirm").click()
    _poll(lambda: board.get_attribute("data-versions") == "v1,v2", what="v3 discarded")
    assert _paths(page, "dw-loss-chart", "v3").count() == 0
    screenshot(page, "board-versions")
    assert not [e for e in page.console_errors if "pageerror" in e]


def test_board_charts_follow_the_dark_theme(page, lab_dark, open_notebook, screenshot):
    cells = [BOARD[0] + "\nv2 = eng.train(epochs=3, parent=v1, progress=False)", BOARD[1]]
    open_notebook(page, lab_dark, "board-dark.ipynb", cells, timeout=240)
    board = page.locator(".dw-board[data-ready='1']")
    board.wait_for(timeout=30_000)
    assert board.get_attribute("data-curves") == "v1,v2"
    board.scroll_into_view_if_needed()
    report = contrast(page, ".dw-board")
    assert report["min"] >= 4.5, report["worst"]
    # tick values and titles are painted in the theme's light text, the plot on its dark background
    fill = page.locator(".dw-board svg.dw-loss-chart .dw-ytick").first.evaluate("n => getComputedStyle(n).fill")
    bg = page.locator(".dw-board svg.dw-loss-chart").evaluate("n => getComputedStyle(n).backgroundColor")
    rgb = lambda c: [int(float(x)) for x in c[c.index("(") + 1 : c.index(")")].replace(",", " ").split()[:3]]  # noqa: E731
    assert luminance(rgb(fill)) > 0.3 and luminance(rgb(bg)) < 0.1, (fill, bg)
    screenshot(page, "board-dark")
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
