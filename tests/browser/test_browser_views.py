"""ProjectionView and ImageGallery in a real JupyterLab, driven like a user: lasso, zoom, hover,
version switch; the kernel's state is read back through a second client on the same kernel."""

from __future__ import annotations

import pytest
from browser_helpers import _drag, _edge_distance, _inside, _poll, _ready, _screen

SETUP = [
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=2, progress=False)",
    "proj = dw.ProjectionView(eng, v1, height=480)\n"
    "gal = dw.ImageGallery(eng, v1, page_size=1000)\n"
    "links = dw.link(proj, gal)\n"
    "w.VBox([proj, gal])",
]


def test_lasso_selects_exactly_the_points_inside_and_the_gallery_shows_them(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "lasso.ipynb", SETUP, timeout=240)
    canvas, rect, view_box = _ready(nb)
    # the first-frame marker: set after a frame at the plot's real size with points, not after the
    # first draw (a 50 px canvas before layout)
    ready = page.locator(".dw-projection[data-points-ready]")
    ready.wait_for(timeout=30_000)
    w0, h0 = (int(v) for v in ready.get_attribute("data-points-ready-size").split(","))
    assert (w0, h0) == (round(rect["width"]), 480), (w0, h0, rect)
    assert float(ready.get_attribute("data-points-ready")) > 1.5e12  # epoch milliseconds
    xy = nb.kernel.eval("proj.coordinates().tolist()")
    cx, cy = rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2
    w, h = rect["width"], rect["height"]
    poly = [
        (round(cx - 0.3 * w), round(cy - 0.2 * h)),
        (round(cx + 0.05 * w), round(cy - 0.3 * h)),
        (round(cx + 0.25 * w), round(cy)),
        (round(cx), round(cy + 0.25 * h)),
        (round(cx - 0.2 * w), round(cy + 0.1 * h)),
    ]
    _drag(page, poly)
    screen = _screen(xy, rect, view_box)
    expected = {i for i, (sx, sy) in enumerate(screen) if _inside(sx, sy, poly)}
    assert 10 < len(expected) < 1000, len(expected)
    got = set(_poll(lambda: nb.kernel.eval("proj.selection"), what="a selection in the kernel"))
    # identical up to points within a pixel of the drawn edge (mouse positions are rounded)
    differ = got ^ expected
    assert all(_edge_distance(*screen[i], poly) < 1.0 for i in differ), sorted(differ)[:10]
    assert len(differ) <= 3

    # the linked gallery shows exactly those images, with text labels
    _poll(lambda: page.locator(".dw-gallery-item").count() == len(got), what="gallery items")
    shown = {int(x) for x in page.locator(".dw-gallery-item").evaluate_all("els => els.map(e => e.dataset.index)")}
    assert shown == got
    assert nb.kernel.eval("gal.selection") == sorted(got)
    labels = page.locator(".dw-gallery-item .dw-label").all_inner_texts()
    classes = nb.kernel.eval("eng.classes")
    assert set(labels) <= set(classes)

    # shift adds a box-like second lasso, alt removes it again
    extra = [(round(cx + 0.3 * w), round(cy + 0.3 * h)), (round(cx + 0.45 * w), round(cy + 0.3 * h)),
             (round(cx + 0.45 * w), round(cy + 0.45 * h)), (round(cx + 0.3 * w), round(cy + 0.45 * h))]
    extra_hits = {i for i, (sx, sy) in enumerate(screen) if _inside(sx, sy, extra)}
    _drag(page, extra, modifier="Shift")
    _poll(lambda: set(nb.kernel.eval("proj.selection")) == got | extra_hits or None, what="shift adds")
    _drag(page, extra, modifier="Alt")
    _poll(lambda: set(nb.kernel.eval("proj.selection")) == got - extra_hits or None, what="alt removes")
    screenshot(page, "projection-lasso")
    assert not [e for e in page.console_errors if "pageerror" in e]


def test_python_selection_and_clicking_a_gallery_image_sets_focus(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "focus.ipynb", SETUP, timeout=240)
    _ready(nb)
    # an empty selection is a state, not an error: the gallery says how to make one
    empty = page.locator(".dw-gallery .dw-empty")
    empty.wait_for(state="visible", timeout=10_000)
    assert "No images selected" in empty.inner_text()
    assert page.locator(".dw-projection .dw-error").is_hidden()
    nb.kernel.exec("proj.selection = [5, 17, 42]")
    _poll(lambda: page.locator(".dw-gallery-item").count() == 3, what="three gallery items")
    assert "3 selected" in page.locator(".dw-projection .dw-status").inner_text()
    page.locator(".dw-gallery-item[data-index='17'] canvas").click()
    _poll(lambda: nb.kernel.eval("gal.focus") == 17, what="focus 17 in the kernel")
    screenshot(page, "gallery-focus")


def test_zooming_in_turns_points_into_thumbnails_and_hover_shows_details(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "zoom.ipynb", SETUP, timeout=240)
    canvas, rect, view_box = _ready(nb)
    root = page.locator(".dw-projection")
    assert root.get_attribute("data-thumbnails") == "0"
    # zoom in on the point nearest to the plot's centre
    xy = nb.kernel.eval("proj.coordinates().tolist()")
    mid = (rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2)
    cx, cy = min(_screen(xy, rect, view_box), key=lambda s: (s[0] - mid[0]) ** 2 + (s[1] - mid[1]) ** 2)
    page.mouse.move(cx, cy)
    for _ in range(25):  # zoom in step by step until the points turn into images
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(150)
        if int(root.get_attribute("data-thumbnails") or 0) > 0:
            break
    _poll(lambda: int(root.get_attribute("data-thumbnails") or 0) > 3, what="thumbnails drawn", timeout=30)
    zoomed = _poll(lambda: (b := nb.kernel.eval("proj.view_box")) != view_box and b, what="view box after zoom")
    assert (zoomed[1] - zoomed[0]) < (view_box[1] - view_box[0]) / 3
    screenshot(page, "projection-thumbnails")

    # hover the point nearest to the zoom centre: the tooltip names its label and prediction as text
    rect = canvas.bounding_box()
    screen = _screen(xy, rect, zoomed)
    inside = [(i, s) for i, s in enumerate(screen) if rect["x"] + 20 < s[0] < rect["x"] + rect["width"] - 20
              and rect["y"] + 20 < s[1] < rect["y"] + rect["height"] - 20]
    i, (sx, sy) = min(inside, key=lambda t: (t[1][0] - cx) ** 2 + (t[1][1] - cy) ** 2)
    page.mouse.move(sx, sy)
    tooltip = page.locator(".dw-tooltip")
    tooltip.wait_for(state="visible", timeout=10_000)
    shown = int(tooltip.get_attribute("data-index"))
    sx2, sy2 = screen[shown]
    assert ((sx2 - sx) ** 2 + (sy2 - sy) ** 2) ** 0.5 <= 8
    label = nb.kernel.eval(f"eng.classes[int(eng.dataset.labels[{shown}])]")
    assert f"label: {label}" in tooltip.inner_text()
    screenshot(page, "projection-tooltip")


def test_switching_version_keeps_the_frame_and_moves_points(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "switch.ipynb", SETUP, timeout=240)
    _, _, view_box = _ready(nb)
    before = nb.kernel.eval("proj.coordinates()[:50].tolist()")
    nb.kernel.exec("v2 = eng.retrain(v1, epochs=1, progress=False)\nproj.version = v2.id", timeout=120)
    _poll(lambda: "v2" in page.locator(".dw-projection .dw-status").inner_text(), what="status shows v2")
    after = nb.kernel.eval("proj.coordinates()[:50].tolist()")
    assert after != before
    assert nb.kernel.eval("gal.version") == "v2"  # linked
    page.wait_for_timeout(800)  # the animation and the debounced view sync have finished
    assert nb.kernel.eval("proj.view_box") == view_box  # same frame: no refit
    screenshot(page, "projection-version-switch")


def test_bad_input_shows_in_the_view_and_the_kernel_lives(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "bad.ipynb", SETUP, timeout=240)
    _ready(nb)
    with pytest.raises(RuntimeError, match="out of range"):  # the harness's KernelError
        nb.kernel.exec("proj.selection = [1, 99999]")
    banner = page.locator(".dw-projection .dw-error")
    banner.wait_for(state="visible", timeout=10_000)
    assert "selection indices out of range [0, 1000): [99999]" in banner.inner_text()
    assert nb.kernel.eval("1 + 1") == 2
    nb.kernel.exec("plain = dw.datasets.from_tensors(ds.images, ds.labels, split=ds.split)\n"
                   "e2 = dw.Engine(plain); p2 = dw.ProjectionView(e2, e2.train(epochs=1, progress=False))")
    with pytest.raises(RuntimeError, match="needs an 'aligned' attribute"):
        nb.kernel.exec("p2.color_by = 'aligned'")
    assert "aligned" in nb.kernel.eval("p2.error") and nb.kernel.eval("p2.color_by") == "class"
    # the dataset with the attribute offers it in the browser's colour menu
    options = page.locator(".dw-projection select.dw-color-by").first.evaluate(
        "s => Array.from(s.options).map(o => o.value)"
    )
    assert "aligned" in options
    screenshot(page, "projection-bad-input")


XSS = "<img src=x onerror=alert(1)>"


def test_class_names_render_as_text_never_html(page, lab, open_notebook, screenshot):
    cells = [
        "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
        "base = dw.datasets.load('colored-digits', n_train=300, n_val=60, n_test=60)\n"
        f"names = [{XSS!r}, '<b>bold</b>'] + [f'c{{i}}' for i in range(2, 10)]\n"
        "ds = dw.datasets.from_tensors(base.images, base.labels, classes=names, split=base.split)\n"
        "eng = dw.Engine(ds); v1 = eng.train(epochs=1, progress=False)\n"
        "proj = dw.ProjectionView(eng, v1, height=360); gal = dw.ImageGallery(eng, v1)\n"
        "dw.link(proj, gal); proj.selection = np.flatnonzero(ds.labels < 2)[:12].tolist()\n"
        "w.VBox([proj, gal])",
    ]
    nb = open_notebook(page, lab, "xss.ipynb", cells, timeout=240)
    page.locator(".dw-projection[data-ready='1']").wait_for(timeout=30_000)
    _poll(lambda: page.locator(".dw-gallery-item").count() == 12, what="gallery items")
    legend = page.locator(".dw-projection .dw-legend-label").all_inner_texts()
    assert XSS in legend and "<b>bold</b>" in legend
    labels = page.locator(".dw-gallery-item .dw-label").all_inner_texts()
    assert XSS in labels
    assert page.locator(".dw-root img[src='x']").count() == 0
    assert page.locator(".dw-root b").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert nb.kernel.eval("len(proj.selection)") == 12
    screenshot(page, "xss-class-names")


def test_renders_in_notebook_7(page, nb7, open_notebook, screenshot):
    nb = open_notebook(page, nb7, "nb7.ipynb", SETUP, timeout=240)
    page.locator(".dw-projection[data-ready='1']").wait_for(timeout=30_000)
    painted = page.locator(".dw-projection canvas.dw-points").evaluate(
        """c => { const t = document.createElement('canvas'); t.width = c.width; t.height = c.height;
                  const g = t.getContext('2d'); g.drawImage(c, 0, 0);
                  const d = g.getImageData(0, 0, t.width, t.height).data; let n = 0;
                  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
    )
    assert painted > 1000, painted  # the points really were drawn
    assert _poll(lambda: nb.kernel.eval("proj.view_box"), what="view box from Notebook 7")
    screenshot(page, "notebook7-projection")
