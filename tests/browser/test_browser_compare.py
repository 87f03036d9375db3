"""MosaicView, TraceView and AttributionGrid in a real JupyterLab, light and dark (issue 13): one
selection everywhere (a selection made in the trace leaves no stale outline in the mosaic; a
selection or focus set from Python shows in the trace and the mosaic), charts that say what they
show (version ids in the legends, class names on the axes, colour bars), a trace as wide as its
container, an attribution grid whose last column is visible or scrolls into view, and text that
reads in both themes. Screenshots: ``artifacts/screenshots/compare-<view>-<theme>.png``."""

from __future__ import annotations

import json

from browser_helpers import _poll, canvas_background, contrast, luminance

MIN_CONTRAST = 4.5

SETUP = [
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=1, progress=False)\n"
    "v2 = eng.retrain(v1, epochs=2, progress=False)",
    "mosaic = dw.MosaicView(eng, v1, v2)\n"
    "trace = dw.TraceView(eng)\n"
    "gal = dw.ImageGallery(eng, v2, page_size=12)\n"
    "grid = dw.AttributionGrid(eng, v2)\n"
    "links = dw.link(mosaic, trace, gal, grid)\n"
    "w.VBox([mosaic, trace, gal, grid])",
]

# the cells a selection outlines, computed in the kernel from the engine's comparison: every cell
# (true class, b's prediction) holding selected images, and only when the selection is exactly
# the images of such whole cells (none outside the compared split)
def _outlined_expected(nb, selection):
    return nb.kernel.eval(
        "(lambda cmp: (lambda keys, sel, outside: sorted(set(keys[sel].tolist()))"
        " if sel.any() and not outside and all(sel[keys == k].all() for k in set(keys[sel].tolist())) else [])"
        f"(np.array([f'{{t}},{{p}}' for t, p in zip(cmp.labels, cmp.pred_b)]), np.isin(cmp.indices, {selection}),"
        f" len(set({selection}) - set(cmp.indices.tolist()))))(mosaic.comparison())"
    )


def _attr(page, selector, name):
    return page.locator(selector).first.get_attribute(name)


def test_compare_views_share_one_selection_and_say_what_they_show(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"compare-{theme}.ipynb", SETUP, timeout=300)
    mosaic = page.locator(".dw-mosaic[data-ready='1']")
    mosaic.wait_for(timeout=60_000)
    trace = page.locator(".dw-trace[data-ready='1']")
    trace.wait_for(timeout=60_000)
    dark = theme == "dark"
    assert _attr(page, ".dw-mosaic", "data-theme") == theme and _attr(page, ".dw-trace", "data-theme") == theme

    # --- the mosaic says what it shows: version ids, colour meaning, class names on both axes
    legend = page.locator(".dw-mosaic .dw-mosaic-legend").inner_text()
    assert "v2 better than v1" in legend and "v2 worse than v1" in legend, legend
    assert "better in b" not in legend
    classes = nb.kernel.eval("list(eng.dataset.classes)")
    cells = json.loads(_attr(page, ".dw-mosaic", "data-cells"))
    ticks = page.locator(".dw-mosaic .dw-mosaic-xtick").all_inner_texts()
    assert ticks == [classes[t] for t in sorted({c["t"] for c in cells})]  # one tick per true class
    assert "true class" in page.locator(".dw-mosaic .dw-mosaic-xtitle").inner_text()
    assert "predicted class by v2" in page.locator(".dw-mosaic .dw-mosaic-ytitle").inner_text()
    cell_labels = page.locator(".dw-mosaic .dw-mosaic-cell-label").evaluate_all(
        "els => els.map(e => [e.dataset.cell, e.textContent])"
    )
    assert cell_labels, "no predicted-class labels on the cells"
    by_key = {f"{c['t']},{c['p']}": c for c in cells}
    for key, text in cell_labels:  # each label names its cell's predicted class and count under v2
        c = by_key[key]
        assert text == f"{classes[c['p']]}: {c['b']}"
    bar = page.locator(".dw-mosaic canvas.dw-mosaic-colorbar-canvas").bounding_box()
    assert bar and bar["width"] >= 100 and bar["height"] >= 8, "the mosaic has no colour bar"
    bar_text = page.locator(".dw-mosaic .dw-mosaic-colorbar").inner_text()
    assert "v2" in bar_text and "v1" in bar_text and "+" in bar_text and "−" in bar_text
    # neutral and faint cells follow the theme: no light grey cells on a dark page
    neutral = [c for c in cells if c["a"] == c["b"] and c["w"] > 4 and c["h"] > 4]
    if neutral:
        c = neutral[0]
        rgb = page.locator(".dw-mosaic canvas.dw-mosaic-canvas").evaluate(
            f"cv => Array.from(cv.getContext('2d').getImageData({c['x'] + c['w'] / 2} * devicePixelRatio,"
            f" {c['y'] + c['h'] / 2} * devicePixelRatio, 1, 1).data).slice(0, 3)"
        )
        assert (luminance(rgb) < 0.2) == dark, f"neutral cell {rgb} in the {theme} theme"

    # --- the trace: as wide as its container, a legend naming versions and categories
    widths = page.locator(".dw-trace").evaluate(
        "r => [r.getBoundingClientRect().width, r.querySelector('canvas.dw-trace-canvas').getBoundingClientRect().width,"
        " r.querySelector('canvas.dw-trace-canvas').width / devicePixelRatio]"
    )
    root_w, canvas_w, backing_w = widths
    assert canvas_w >= 0.97 * root_w and abs(backing_w - canvas_w) <= 1, widths
    # ... and after the window narrows: the canvas follows its container and is redrawn
    page.set_viewport_size({"width": 1000, "height": 900})
    _poll(lambda: int(_attr(page, ".dw-trace", "data-width")) < canvas_w - 100, what="the trace redrawn narrower")
    narrow = page.locator(".dw-trace").evaluate(
        "r => [r.getBoundingClientRect().width, r.querySelector('canvas.dw-trace-canvas').getBoundingClientRect().width]"
    )
    assert narrow[1] >= 0.97 * narrow[0] and narrow[1] <= narrow[0] + 1, narrow
    page.set_viewport_size({"width": 1280, "height": 900})
    _poll(lambda: abs(int(_attr(page, ".dw-trace", "data-width")) - canvas_w) <= 2, what="the trace back to full width")
    trace_legend = page.locator(".dw-trace .dw-legend").inner_text()
    for words in ("v1, v2", "became correct", "became wrong", "unchanged"):
        assert words in trace_legend, trace_legend

    # --- a click on a mosaic cell outlines that cell
    box = page.locator(".dw-mosaic canvas.dw-mosaic-canvas").bounding_box()
    first = max((c for c in cells if c["b"] > 0 and c["h"] > 8 and c["w"] > 8), key=lambda c: c["b"])
    key = f"{first['t']},{first['p']}"
    page.mouse.click(box["x"] + first["x"] + first["w"] / 2, box["y"] + first["y"] + first["h"] / 2)
    want = nb.kernel.eval(f"mosaic.comparison().cell({first['t']}, {first['p']}).tolist()")
    _poll(lambda: nb.kernel.eval("trace.selection") == want, what="the cell's images selected, trace linked")
    _poll(lambda: _attr(page, ".dw-mosaic", "data-outlined-cells") == json.dumps([key]), what="the clicked cell outlined")
    _poll(lambda: _attr(page, ".dw-trace", "data-selected") == str(len(want)), what="the trace shows the cell's images")

    # --- a selection made in the trace: the mosaic drops the stale outline
    page.locator(".dw-trace select.dw-filter").select_option("became right")
    right = nb.kernel.eval("sorted(eng.compare(v1, v2).became_right.tolist())")
    assert right, "two more epochs fix some images"
    _poll(lambda: _attr(page, ".dw-trace", "data-shown") == str(len(right)), what="the trace filter")
    page.locator(".dw-trace button.dw-select-shown").click()
    _poll(lambda: nb.kernel.eval("mosaic.selection") == right, what="the trace's selection reaches the mosaic")
    expected = _outlined_expected(nb, right)
    _poll(lambda: json.loads(_attr(page, ".dw-mosaic", "data-outlined-cells")) == expected, what=f"outlines {expected}")
    if key not in expected:
        assert key not in _attr(page, ".dw-mosaic", "data-outlined-cells")
    marked = json.loads(_attr(page, ".dw-mosaic", "data-selected-cells"))
    assert sum(marked.values()) == len(right)  # every selected image is marked in its cell
    assert _attr(page, ".dw-trace", "data-selected") == str(len(right))
    page.locator(".dw-trace").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    screenshot(page, f"compare-trace-{theme}")

    # --- a selection and a focus set from Python show in the trace and the mosaic
    page.locator(".dw-trace select.dw-filter").select_option("all")
    sel = nb.kernel.eval("sorted(mosaic.comparison().indices[::7].tolist())")
    nb.kernel.exec(f"gal.selection = {sel}")
    _poll(lambda: _attr(page, ".dw-trace", "data-selected") == str(len(sel)), what="a Python selection in the trace")
    _poll(lambda: _attr(page, ".dw-trace", "data-selected-shown") == str(len(sel)), what="drawn with the filter 'all'")
    expected = _outlined_expected(nb, sel)
    _poll(lambda: json.loads(_attr(page, ".dw-mosaic", "data-outlined-cells")) == expected, what=f"outlines {expected}")
    marked = json.loads(_attr(page, ".dw-mosaic", "data-selected-cells"))
    assert sum(marked.values()) == len(sel)
    focus = sel[0]
    nb.kernel.exec(f"gal.focus = {focus}")
    _poll(lambda: _attr(page, ".dw-trace", "data-focus") == str(focus), what="the focused image in the trace")
    fkey = nb.kernel.eval(
        f"(lambda c: (lambda i: f'{{c.labels[i]}},{{c.pred_b[i]}}')(int(np.flatnonzero(c.indices == {focus})[0])))(mosaic.comparison())"
    )
    _poll(lambda: _attr(page, ".dw-mosaic", "data-focus-cell") == fkey, what="the focused image's mosaic cell")
    # clicking a trace point moves the shared focus
    hit = page.locator(".dw-trace canvas.dw-trace-canvas").evaluate(
        "c => { const root = c.closest('.dw-trace'); const [pr, pg, pb] = root.dataset.pointRgb.split(',').map(Number);"
        " const r = c.getBoundingClientRect(); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let y = 20; y < r.height - 45; y++) for (let x = 100; x < r.width; x++) {"
        "  const o = (Math.round(y * devicePixelRatio) * c.width + Math.round(x * devicePixelRatio)) * 4;"
        "  if (d[o] === pr && d[o + 1] === pg && d[o + 2] === pb) return [r.left + x, r.top + y]; } return null; }"
    )
    assert hit is not None, "no point drawn in the trace"
    page.mouse.click(*hit)
    _poll(lambda: nb.kernel.eval("gal.focus") not in (-1, focus), what="a trace click focuses the gallery's image")
    new_focus = nb.kernel.eval("gal.focus")
    _poll(lambda: _attr(page, ".dw-trace", "data-focus") == str(new_focus), what="the trace marks the clicked image")
    page.locator(".dw-mosaic").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    screenshot(page, f"compare-mosaic-{theme}")

    # --- the attribution grid: 12 columns, the last one visible or reachable by scrolling
    nb.kernel.exec(f"gal.selection = {sel[:12]}")
    grid = page.locator(".dw-attribution")
    _poll(lambda: grid.get_attribute("data-items") == "12", timeout=60, what="12 columns in the grid")
    page.locator(".dw-attribution[data-progress='1']").wait_for(timeout=60_000)
    geo = grid.evaluate(
        "r => { const g = r.querySelector('.dw-attr-grid'); const cols = r.querySelectorAll('.dw-attr-col');"
        " const out = r.closest('.jp-OutputArea-output') || r.parentElement;"
        " const b = (n) => { const x = n.getBoundingClientRect(); return [x.left, x.right]; };"
        " return { root: b(r), out: b(out), grid: b(g), last: b(cols[cols.length - 1]),"
        "  scroll: g.scrollWidth - g.clientWidth, overflow: getComputedStyle(g).overflowX, scrollable: r.dataset.scrollable }; }"
    )
    assert geo["root"][1] <= geo["out"][1] + 1, f"the grid is wider than its output area, which clips it: {geo}"
    if geo["scroll"] > 1:
        assert geo["overflow"] in ("auto", "scroll") and geo["scrollable"] == "1", geo
        assert "scroll" in grid.locator(".dw-attr-scroll-note").inner_text()
        grid.locator(".dw-attr-grid").evaluate("g => { g.scrollLeft = g.scrollWidth; }")
        geo = grid.evaluate(
            "r => { const g = r.querySelector('.dw-attr-grid').getBoundingClientRect();"
            " const cols = r.querySelectorAll('.dw-attr-col'); const l = cols[cols.length - 1].getBoundingClientRect();"
            " return { grid: [g.left, g.right], last: [l.left, l.right] }; }"
        )
    assert geo["grid"][0] - 1 <= geo["last"][0] and geo["last"][1] <= geo["grid"][1] + 1, f"last column clipped: {geo}"
    # the toolbar wraps between its groups, never inside one (a label away from its control)
    groups = grid.locator(".dw-attr-group").evaluate_all(
        "els => els.map(e => { const kids = [...e.children].filter(k => k.getBoundingClientRect().width > 0);"
        " const tops = kids.map(k => k.getBoundingClientRect().top + k.getBoundingClientRect().height / 2);"
        " return Math.max(...tops) - Math.min(...tops); })"
    )
    assert groups and max(groups) < 12, f"a toolbar group wrapped: {groups}"
    rows = grid.locator(".dw-attr-toolbar").evaluate("t => t.getBoundingClientRect().height")
    assert rows < 70, f"the toolbar takes {rows}px"
    # a colour bar names what the heatmap colours mean, in the colormap shown
    cb = grid.locator(".dw-attr-colorbar").inner_text()
    assert "relevance: low" in cb and "high" in cb
    assert grid.locator("canvas.dw-attr-colorbar-canvas").get_attribute("data-colormap") == nb.kernel.eval("grid.colormap")
    assert grid.locator("canvas.dw-attr-colorbar-canvas").bounding_box()["width"] >= 100
    # the focused image's column is marked
    nb.kernel.exec(f"gal.focus = {sel[3]}")
    _poll(lambda: grid.get_attribute("data-focus") == str(sel[3]), what="focus column in the grid")
    assert grid.locator(f".dw-attr-col[data-index='{sel[3]}']").get_attribute("aria-current") == "true"
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    screenshot(page, f"compare-attribution-{theme}")

    # --- everything reads in the theme
    failures = []
    for sel_css in (".dw-mosaic", ".dw-trace", ".dw-attribution"):
        report = contrast(page, sel_css)
        if report["min"] < MIN_CONTRAST:
            failures.append(f"{sel_css}: min contrast {report['min']:.2f}; worst {report['worst']}")
    for sel_css in (".dw-mosaic canvas", ".dw-trace canvas"):
        bg = canvas_background(page, sel_css)
        if (luminance(bg) < 0.2) != dark:
            failures.append(f"{sel_css} paints {bg} in the {theme} theme")
    assert not failures, "\n".join(failures)
