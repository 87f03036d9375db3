"""AttributionGrid in a real JupyterLab: a lasso in the projection fills the grid with those
images' maps; switching method (the dropdown) and colormap updates them."""

from __future__ import annotations

from browser_helpers import _drag, _poll, _ready

SETUP = [
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "from dashwidgets.widgets import _atlas\n"
    "heat = getattr(_atlas, 'heat_thumbnails', None) or _atlas.heat_bytes\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=2, progress=False)",
    "proj = dw.ProjectionView(eng, v1, height=420)\n"
    "grid = dw.AttributionGrid(eng, v1, page_size=8)\n"
    "links = dw.link(proj, grid)\n"
    "w.VBox([proj, grid])",
]

# per shown image: the sum of the heat bytes the kernel's engine computes for it, computed as the
# grid computes them: in chunks of ``grid._chunk`` images. Integrated Gradients batched otherwise
# (one batch of 8) differs by ~1e-9 from float32 reduction order, and that flips a uint8 rounding
# now and then; with the same chunks the maps, and so the sums, are identical.
# (heat_bytes is being renamed heat_thumbnails, an array instead of bytes; memoryview reads both)
HEAT_SUMS = (
    "[[int(i), int(s)] for i, s in zip(grid.page_indices(), np.asarray(memoryview(heat(np.concatenate(["
    "eng.attribute(v1, grid.page_indices()[k:k + grid._chunk], grid.method, numpy=True) "
    "for k in range(0, len(grid.page_indices()), grid._chunk)]), grid.cell)), np.uint8)"
    ".reshape(-1, grid.cell * grid.cell).sum(1))]"
)


def _shown(page):
    return page.locator(".dw-attr-col").evaluate_all(
        "els => els.map(e => [Number(e.dataset.index), Number(e.dataset.heatSum || -1)])"
    )


def test_lasso_fills_the_grid_and_switching_method_updates_the_maps(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "attribution.ipynb", SETUP, timeout=240)
    canvas, rect, _ = _ready(nb)
    page.locator(".dw-attribution .dw-empty").wait_for(state="visible", timeout=10_000)
    cx, cy, w, h = rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2, rect["width"], rect["height"]
    _drag(page, [(cx - 0.2 * w, cy - 0.2 * h), (cx + 0.2 * w, cy - 0.2 * h), (cx + 0.2 * w, cy + 0.2 * h), (cx - 0.2 * w, cy + 0.2 * h)])
    sel = _poll(lambda: nb.kernel.eval("proj.selection"), what="a lasso selection")
    assert nb.kernel.eval("grid.selection") == sel
    first_page = sorted(sel)[:8]

    # the grid shows the first page of the lasso's images, with the engine's maps
    page.locator(".dw-attribution[data-rendered='gradcam||pred']").wait_for(timeout=30_000)
    _poll(lambda: [i for i, _ in _shown(page)] == first_page, what="the lasso's images in the grid")
    expected = dict(map(tuple, nb.kernel.eval(HEAT_SUMS)))
    _poll(lambda: dict(_shown(page)) == expected or None, what=f"Grad-CAM heatmaps drawn: {expected}")
    assert page.locator(".dw-attr-col canvas").count() == 3 * len(first_page)  # original, heatmap, overlay
    assert page.locator(".dw-attribution .dw-count").inner_text().startswith(f"{len(sel)} selected")
    # per-image RMA/RRA on the bias mask, as the kernel computed them
    first = nb.kernel.eval("[grid.items[0]['rma_bias'], grid.items[0]['rra_bias']]")
    metric = page.locator(".dw-attr-col").first.locator(".dw-metric[data-mask='bias']").inner_text()
    assert metric == "bias " + " ".join(f"{v:.2f}".removeprefix("0") for v in first)
    page.locator(".dw-attr-grid").scroll_into_view_if_needed()
    screenshot(page, "attribution-gradcam")

    # switching method in the dropdown recomputes in the kernel and redraws every map
    page.locator(".dw-attribution select.dw-method").select_option("ig")
    page.locator(".dw-attribution[data-rendered='ig||pred']").wait_for(timeout=60_000)
    assert nb.kernel.eval("grid.method") == "ig"
    assert page.locator(".dw-attribution select.dw-layer").is_hidden()  # layers are for CAM methods
    expected_ig = dict(map(tuple, nb.kernel.eval(HEAT_SUMS)))
    assert expected_ig != expected
    _poll(lambda: dict(_shown(page)) == expected_ig or None, what=f"IG heatmaps drawn: {expected_ig}")

    # colormap and opacity change only the browser's drawing
    before = page.locator(".dw-attr-col canvas").nth(1).evaluate("c => c.toDataURL()")
    page.locator(".dw-attribution select.dw-colormap").select_option("gray")
    page.locator(".dw-attribution[data-colormap='gray']").wait_for(timeout=10_000)
    assert page.locator(".dw-attr-col canvas").nth(1).evaluate("c => c.toDataURL()") != before
    assert nb.kernel.eval("grid.colormap") == "gray"
    screenshot(page, "attribution-ig-gray")

    # clicking a column sets focus
    page.locator(f".dw-attr-col[data-index='{first_page[1]}'] canvas").first.click()
    _poll(lambda: nb.kernel.eval("grid.focus") == first_page[1], what="focus from a click")
    assert not [e for e in page.console_errors if "pageerror" in e]
