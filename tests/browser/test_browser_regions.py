"""RegionView in a real JupyterLab, light and dark: the images, region maps, pixel maps and
mitigation previews draw from the kernel's maps (checked pixel by pixel), the quantile slider
changes which pixels the preview greys exactly as ``eng.augment`` would, rows focus linked views
and a linked selection changes the rows, the reliability diagram has its bars, axis titles,
legend and ECE, a class name with markup stays text, and refused input shows in the view.
Screenshots: ``artifacts/screenshots/regions-<theme>.png`` and ``regions-error-<theme>.png``."""

from __future__ import annotations

import numpy as np
from browser_helpers import _poll, contrast

SETUP = [
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "from dashwidgets.augment.classical import top_regions\n"
    "base = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=400, n_val=80, n_test=40)\n"
    "classes = list(base.classes); classes[3] = '<b>x</b>'  # markup in a class name must stay text\n"
    "ds = dw.datasets.from_tensors(base.images, base.labels, classes=classes, split=base.split,\n"
    "                              attributes=base.attributes, masks=base.masks)\n"
    "eng = dw.Engine(ds)\n"
    "rc = eng.region_classifier(epochs=4, progress=False)\n"
    "v = eng.train(epochs=1, progress=False)\n"
    "val = ds.indices('val')\n"
    "first = sorted({int(i) for i in val[:5]} | {int(val[ds.labels[val] == 3][0])})",
    "rv = dw.RegionView(eng, rc, images=first)\n"
    "gal = dw.ImageGallery(eng, v, page_size=6)\n"
    "links = dw.link(rv, gal)\n"
    "w.VBox([rv, gal])",
]

# each shown row's image and preview canvases as RGBA pixel lists (intrinsic size: H x W)
PIXELS = """root => [...root.querySelectorAll('.dw-regions-rows .dw-regions-row')].map(row => {
  const read = (c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  const q = (s) => row.querySelector(s);
  return { index: Number(row.dataset.index), image: read(q('.dw-regions-image')), preview: read(q('.dw-regions-preview')),
           region: read(q('.dw-regions-region')), removed: Number(q('.dw-regions-preview').dataset.removed),
           size: [q('.dw-regions-region').width, q('.dw-regions-pixel').width] };
})"""


def _check_pixels(nb, root, q):
    rows = root.evaluate(PIXELS)
    shown = nb.kernel.eval("[s['index'] for s in rv.shown]")
    assert [r["index"] for r in rows] == shown
    images = np.asarray(nb.kernel.eval(f"ds.images[{shown}].transpose(0, 2, 3, 1).tolist()"), np.uint8)
    maps = nb.kernel.eval(f"(rv.pixel_maps.tolist(), rv.region_maps.tolist(), top_regions(rv.pixel_maps, {q}).tolist())")
    pixel_maps, region_maps, removed = (np.asarray(m) for m in maps)
    g = region_maps.shape[1]
    for k, r in enumerate(rows):
        assert r["size"] == [g, 32]
        image = np.asarray(r["image"], np.uint8).reshape(32, 32, 4)
        np.testing.assert_array_equal(image[..., :3], images[k])  # the image itself, pixel for pixel
        preview = np.asarray(r["preview"], np.uint8).reshape(32, 32, 4)[..., :3]
        expected = np.where(removed[k][..., None], np.uint8(128), images[k])
        np.testing.assert_array_equal(preview, expected)  # greyed: exactly what eng.augment changes
        assert r["removed"] == removed[k].sum()
        # viridis brightens with confidence: the region map's most confident cell is its brightest
        lum = np.asarray(r["region"], float).reshape(g, g, 4)[..., :3] @ [0.2126, 0.7152, 0.0722]
        if region_maps[k].max() - region_maps[k].min() > 0.05:
            assert region_maps[k].flat[lum.argmax()] >= region_maps[k].max() - 0.01
    return removed


def test_maps_preview_slider_links_chart_and_errors(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"regions-{theme}.ipynb", SETUP, timeout=300)
    first = nb.kernel.eval("first")
    key = nb.kernel.eval("rc.key")
    page.locator(f".dw-regions[data-rendered='{key}|{','.join(map(str, first))}|specific']").wait_for(timeout=60_000)
    root = page.locator(".dw-regions")
    assert root.locator(".dw-regions-rows .dw-regions-row").count() == len(first)
    at_07 = _check_pixels(nb, root, 0.7)
    share = at_07.mean()
    assert 0.2 <= share <= 0.4, share  # about the top 30 % (ties on the piecewise-constant maps)

    # the class name with markup is text
    labels = root.locator(".dw-regions-label").all_inner_texts()
    assert "class <b>x</b>" in labels and root.locator("b").count() == 0

    # the slider: the kernel gets the quantile, the preview greys the pixels above it
    root.locator("input.dw-regions-quantile").fill("0.5")
    _poll(lambda: nb.kernel.eval("rv.quantile") == 0.5, what="quantile 0.5 in the kernel")
    page.locator(".dw-regions[data-quantile='0.5']").wait_for(timeout=10_000)
    assert "top 50 %" in root.locator(".dw-regions-q").inner_text()
    at_05 = _check_pixels(nb, root, 0.5)
    assert at_05.sum() > at_07.sum()

    # the reliability diagram: a bar per non-empty bin, the diagonal, axis titles, legend, ECE
    bins = nb.kernel.eval("rv.reliability")
    ece = nb.kernel.eval("rv.ece")
    assert root.locator("rect.dw-regions-acc").count() == sum(1 for b in bins if b["count"])
    assert root.locator("rect.dw-regions-share").count() == sum(1 for b in bins if b["share"] > 0)
    assert root.locator(".dw-regions-diagonal").count() == 1
    titles = root.locator(".dw-regions-reliability .dw-axis-title").evaluate_all("els => els.map(e => e.textContent)")
    assert titles == ["accuracy", "share", "confidence (top softmax of a patch)"]
    assert f"ECE {ece:.3f}" in root.locator(".dw-regions-chart-title").inner_text()
    legend = root.locator(".dw-regions-chart .dw-legend").inner_text()
    assert "accuracy per bin" in legend and "share of patches" in legend and "perfect calibration" in legend

    # a click on a row focuses it here and in the linked gallery; the focus is shown large
    row = root.locator(".dw-regions-row").nth(2)
    index = int(row.get_attribute("data-index"))
    row.click()
    _poll(lambda: nb.kernel.eval("(rv.focus, gal.focus)") == [index, index], what="focus linked to the gallery")
    page.locator(f".dw-regions-row.dw-focus[data-index='{index}']").wait_for(timeout=10_000)
    assert root.locator(".dw-regions-focus figure canvas").count() == 4
    # a selection made in the linked gallery's view changes the rows
    train = nb.kernel.eval("[int(i) for i in ds.indices('train')[:3]]")
    nb.kernel.exec(f"gal.selection = {train}")
    want = [*train, index]  # the focus stays shown
    page.locator(f".dw-regions[data-rendered='{key}|{','.join(map(str, want))}|specific']").wait_for(timeout=30_000)
    assert [int(x) for x in root.locator(".dw-regions-row").evaluate_all("els => els.map(e => e.dataset.index)")] == want
    _check_pixels(nb, root, 0.5)

    report = contrast(page, ".dw-regions")
    assert report["n"] > 10 and report["min"] >= 4.5, report["worst"]
    root.scroll_into_view_if_needed()
    screenshot(page, f"regions-{theme}")
    root.locator(".dw-regions-chart").scroll_into_view_if_needed()
    screenshot(page, f"regions-chart-{theme}")

    # the general map: the previews grey the same pixels in every image
    root.locator("select.dw-regions-map").select_option("general")
    page.locator(".dw-regions[data-map='general']").wait_for(timeout=10_000)
    page.locator(".dw-regions[data-rendered$='|general']").wait_for(timeout=60_000)
    removed = root.locator(".dw-regions-rows .dw-regions-preview").evaluate_all("els => els.map(e => Number(e.dataset.removed))")
    assert len(set(removed)) == 1 and removed[0] == nb.kernel.eval("int(top_regions(rc.general_map('train')[None], 0.5).sum())")

    # refused input shows in the view: a patch larger than the image, val images as sources
    root.locator("input.dw-regions-patch").fill("100")
    root.locator("button.dw-regions-train").click()
    banner = root.locator(".dw-error")
    _poll(lambda: "larger than the image" in banner.inner_text(), what="the patch error in the view")
    assert nb.kernel.eval("rv.error") == banner.inner_text() and nb.kernel.eval("rv.rc is rc")
    nb.kernel.exec("try:\n    rv.quantile = 1.5\nexcept Exception as e:\n    refused = str(e)")
    _poll(lambda: "strictly between 0 and 1, got 1.5" in banner.inner_text(), what="the quantile error in the view")
    assert "got 1.5" in nb.kernel.eval("refused") and nb.kernel.eval("rv.quantile") == 0.5
    nb.kernel.exec(f"gal.selection = {first}")
    page.locator(f".dw-regions[data-rendered*='|{','.join(map(str, first))}']").wait_for(timeout=30_000)
    root.locator("button.dw-regions-mitigate").click()
    _poll(lambda: "val split" in banner.inner_text(), what="the engine's refusal of val sources in the view")
    assert nb.kernel.eval("rv.augmentation") == ""
    report = contrast(page, ".dw-regions")
    assert report["min"] >= 4.5, report["worst"]
    screenshot(page, f"regions-error-{theme}")

    # train images are mitigated: the augmentation id is reported
    nb.kernel.exec(f"gal.selection = {train}")
    _poll(lambda: nb.kernel.eval("rv.selection") == train, what="train selection")
    root.locator("button.dw-regions-mitigate").click()
    _poll(lambda: nb.kernel.eval("rv.augmentation") != "", what="the augmentation made")
    aug = nb.kernel.eval("rv.augmentation")
    page.locator(f".dw-regions[data-augmentation='{aug}']").wait_for(timeout=10_000)
    assert aug in root.locator(".dw-regions-status").inner_text()
    assert nb.kernel.eval(f"eng.augmentation('{aug}').params['quantile']") == 0.5


TRAINING = [
    "import dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=120, n_val=20, n_test=20)\n"
    "eng = dw.Engine(ds)",
    "rv = dw.RegionView(eng, epochs=500)  # trained in the background: long enough to watch and cancel\nrv",
]


def test_training_job_shows_progress_and_cancels(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "regions-training.ipynb", TRAINING, timeout=240)
    root = page.locator(".dw-regions[data-state='running']")
    root.wait_for(timeout=60_000)
    progress, cancel = root.locator(".dw-progress"), root.locator("button.dw-cancel")
    assert progress.evaluate("e => getComputedStyle(e).visibility") == "visible" and cancel.is_visible()
    assert "training the 'bias_class' region classifier" in root.locator(".dw-regions-status").inner_text()
    assert root.locator("button.dw-regions-mitigate").is_disabled()
    bar = root.locator(".dw-progress-bar")
    _poll(lambda: bar.evaluate("e => parseFloat(e.style.width)") > 0, timeout=120, what="the bar moving with the epochs")
    screenshot(page, "regions-training-light")
    cancel.click()
    page.locator(".dw-regions[data-state='cancelled']").wait_for(timeout=60_000)
    assert nb.kernel.eval("(rv.job.status, rv.rc is None, rv.shown)") == ["cancelled", True, []]
    view = page.locator(".dw-regions")
    assert view.locator(".dw-progress").evaluate("e => getComputedStyle(e).visibility") == "hidden"
    assert "press Train" in view.locator(".dw-regions-status").inner_text()
    # Train runs again with the form's values (the positions a square: 4 x 4)
    view.locator("input.dw-regions-positions").fill("16")
    view.locator("button.dw-regions-train").click()
    page.locator(".dw-regions[data-state='running']").wait_for(timeout=30_000)
    assert nb.kernel.eval("rv.train_args['positions']") == 16
    nb.kernel.exec("rv.cancel(); rv.wait(60)")
