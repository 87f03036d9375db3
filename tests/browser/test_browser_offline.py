"""Views without a kernel (issue 16 §2), in a real JupyterLab, light and dark: render a linked
projection and gallery, an AttributionGrid, a ClusterGallery and a CriticismView, then shut the
kernel down. A lasso in the projection still fills the gallery with exactly the images inside it
(the expected set from the projection's own coordinates), with the labels and predictions the
engine computed, sorted and filtered in the browser from the engine's image snapshot; zooming
in still draws thumbnails; and a fresh view of each other view's output ("Create New View for
Output", rendered from synced state alone) shows its images. Screenshots:
``artifacts/screenshots/offline-<theme>.png`` and ``offline-views-<theme>.png``."""

from __future__ import annotations

from browser_helpers import _drag, _edge_distance, _inside, _poll, _ready, _screen

SETUP = [
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=2, progress=False)",
    "proj = dw.ProjectionView(eng, v1, height=420)\n"
    "gal = dw.ImageGallery(eng, v1, page_size=1000)\n"
    "links = dw.link(proj, gal)\n"
    "w.VBox([proj, gal])",
    "att = dw.AttributionGrid(eng, v1, selection=ds.indices('test')[:4])\natt",
    "cg = dw.ClusterGallery(eng, v1, k=4)\ncg",
    "cv = dw.CriticismView(eng, v1, sample=60)\ncv",
]

# drawn (non-transparent, non-uniform) pixels of every canvas under a root
_PAINTED = """(root) => [...root.querySelectorAll('canvas')].filter((c) => c.width > 8 && c.height > 8).map((c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let opaque = 0; const seen = new Set();
  for (let p = 0; p < d.length; p += 4) { if (d[p + 3] > 0) { opaque++; if (seen.size < 8) seen.add(d[p] * 65536 + d[p + 1] * 256 + d[p + 2]); } }
  return opaque > 0 && seen.size > 1 ? 1 : 0; })"""

_SHUTDOWN = """async (path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.sessionContext) { await w.sessionContext.shutdown(); return true; }
  }
  return false;
}"""

_NEW_OUTPUT_VIEW = """async ([path, index]) => {
  const app = window.jupyterapp;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content) {
      app.shell.activateById(w.id);
      w.content.activeCellIndex = index;
      await app.commands.execute('notebook:create-output-view');
      return true;
    }
  }
  return false;
}"""


def _items(page):
    return page.locator(".dw-gallery-item").evaluate_all("els => els.map(e => Number(e.dataset.index))")


def test_lasso_zoom_and_views_render_without_a_kernel(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    name = f"offline-{theme}.ipynb"
    nb = open_notebook(page, themed_lab, name, SETUP, timeout=300)
    canvas, rect, view_box = _ready(nb)
    vid = nb.kernel.eval("v1.id")
    page.locator(f".dw-criticism[data-rendered^='{vid}|']").wait_for(timeout=180_000)
    page.locator(".dw-clusters[data-ready]").wait_for(timeout=120_000)
    _poll(lambda: int(page.locator(".dw-attribution").get_attribute("data-items") or 0) == 4, what="attribution rows", timeout=60)
    # what the kernel knows, read before it goes
    xy = nb.kernel.eval("proj.coordinates().tolist()")
    classes = nb.kernel.eval("eng.classes")
    ev = nb.kernel.eval("{k: getattr(eng.evaluate(v1), k).tolist() for k in ('pred', 'confidence', 'correct')}")
    labels = nb.kernel.eval("ds.labels.tolist()")
    assert nb.kernel.eval("gal.snapshot is proj.snapshot and len(gal.snapshot.indices) == len(ds)")
    att_idx = nb.kernel.eval("[it['index'] for it in att.items]")
    nb.kernel.close()

    # the kernel goes; the views notice (the gallery says what still works)
    assert page.evaluate(_SHUTDOWN, name)
    before = len(page.console_errors)
    gallery = page.locator(".dw-gallery")
    _poll(lambda: gallery.get_attribute("data-offline") == "1", what="the gallery in offline mode", timeout=30)
    assert "No kernel" in page.locator(".dw-gallery .dw-offline").inner_text()

    # a lasso: the gallery shows exactly the projection's selection, computed in the browser
    cx, cy = rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2
    w, h = rect["width"], rect["height"]
    poly = [(round(cx - 0.3 * w), round(cy - 0.25 * h)), (round(cx + 0.1 * w), round(cy - 0.3 * h)),
            (round(cx + 0.3 * w), round(cy)), (round(cx), round(cy + 0.3 * h)), (round(cx - 0.25 * w), round(cy + 0.1 * h))]
    _drag(page, poly)
    screen = _screen(xy, rect, view_box)
    expected = {i for i, (sx, sy) in enumerate(screen) if _inside(sx, sy, poly)}
    assert 10 < len(expected) < 1000, len(expected)
    got = set(_poll(lambda: _items(page), what="gallery items after the lasso", timeout=30))
    differ = got ^ expected  # identical up to points within a pixel of the drawn edge
    assert all(_edge_distance(*screen[i], poly) < 1.0 for i in differ), sorted(differ)[:10]
    assert len(differ) <= 3
    assert _items(page) == sorted(got)  # index order, as the kernel's gallery
    shown_labels = page.locator(".dw-gallery-item .dw-label").all_inner_texts()
    shown_preds = page.locator(".dw-gallery-item .dw-pred").all_inner_texts()
    assert shown_labels == [classes[labels[i]] for i in sorted(got)]
    assert shown_preds == [f"→ {classes[ev['pred'][i]]}" for i in sorted(got)]
    assert page.locator(".dw-gallery").get_attribute("data-total") == str(len(got))
    painted = page.locator(".dw-gallery .dw-gallery-grid").evaluate(_PAINTED)
    assert painted and all(painted), "every gallery thumbnail is drawn from the snapshot"

    # sort by confidence and keep only wrong predictions, in the browser
    page.locator(".dw-gallery .dw-sort").select_option("confidence")
    by_conf = sorted(sorted(got), key=lambda i: ev["confidence"][i])
    _poll(lambda: _items(page) == by_conf or None, what="sorted by confidence", timeout=10)
    page.locator(".dw-gallery .dw-filter-correct").select_option("wrong")
    wrong = [i for i in by_conf if not ev["correct"][i]]
    _poll(lambda: _items(page) == wrong or None, what="wrong predictions only", timeout=10)
    assert page.locator(".dw-gallery .dw-export").is_disabled()  # CSV export needs the kernel
    page.locator(".dw-gallery .dw-filter-correct").select_option("")
    _poll(lambda: len(_items(page)) == len(got) or None, what="all selected images again", timeout=10)
    page.locator(".dw-gallery .dw-offline").scroll_into_view_if_needed()
    screenshot(page, f"offline-{theme}")

    # zoom in: points become thumbnails from the snapshot (nobody to ask)
    proj = page.locator(".dw-projection")
    page.mouse.move(*screen[min(got)])
    for _ in range(25):
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(150)
        if int(proj.get_attribute("data-thumbnails") or 0) > 3:
            break
    _poll(lambda: int(proj.get_attribute("data-thumbnails") or 0) > 3, what="thumbnails drawn offline", timeout=20)

    # a fresh view of each other view, rendered from the synced state alone, shows its images
    for cell, selector in ((2, ".dw-attribution"), (3, ".dw-clusters"), (4, ".dw-criticism")):
        assert page.evaluate(_NEW_OUTPUT_VIEW, [name, cell])
        fresh = page.locator(f".jp-LinkedOutputView {selector}")
        fresh.last.wait_for(timeout=20_000)
        drawn = _poll(lambda f=fresh: (p := f.last.evaluate(_PAINTED)) and sum(p) >= 2 and p, what=f"{selector} images in a fresh view", timeout=20)
        assert sum(drawn) >= 2, (selector, drawn)
        if selector == ".dw-attribution":
            rows = fresh.last.locator("[data-index]").evaluate_all("els => [...new Set(els.map(e => Number(e.dataset.index)))]")
            assert set(rows) >= set(att_idx)
    screenshot(page, f"offline-views-{theme}")
    # JupyterLab leaves a shut-down kernel's comms open, so ipywidgets' own save_changes (the
    # jslink, a view's trait updates) logs that it cannot send; nothing else may be logged
    page.console_errors[before:] = [e for e in page.console_errors[before:] if "Could not send widget sync message" not in e]
    assert not [e for e in page.console_errors if "pageerror" in e]
