"""ImageGallery in a real JupyterLab (light and dark), driven like a user: tag a selection, click a
tag chip, filter, open an image's detail panel, export CSV, remove a tag; the kernel's state is
read back through a second client on the same kernel. Screenshots:
``artifacts/screenshots/gallery-tags-detail-<theme>.png``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from browser_helpers import _poll, contrast

SETUP = [
    "import numpy as np, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=1, progress=False)\n"
    "v2 = eng.train(epochs=1, seed=1, progress=False)",
    "gal = dw.ImageGallery(eng, v2, page_size=12)\n"
    "gal",
]
SELECTED = [3, 5, 17, 42, 100, 250]


def test_tags_filters_detail_and_export(page, themed_lab, open_notebook, screenshot):
    nb = open_notebook(page, themed_lab, f"gallery-{themed_lab.theme}.ipynb", SETUP, timeout=300)
    root = page.locator(".dw-gallery")
    items = page.locator(".dw-gallery-item")
    empty = root.locator(".dw-empty")
    empty.wait_for(state="visible", timeout=60_000)
    assert "No images selected" in empty.inner_text()
    # the empty message spans the grid instead of wrapping one word per line
    assert empty.evaluate("n => n.getBoundingClientRect().width") > 300

    # tag the selection from the browser: the kernel sees the tag
    nb.kernel.exec(f"gal.selection = {SELECTED}")
    _poll(lambda: items.count() == len(SELECTED), what="selected images shown")
    assert root.locator(".dw-count").inner_text() == f"showing {len(SELECTED)} of {len(SELECTED)}"
    root.locator("input.dw-tag-name").fill("hard cases")
    root.locator("button.dw-tag-add").click()
    _poll(lambda: nb.kernel.eval("eng.tags") == {"hard cases": SELECTED}, what="tag in the kernel")
    chip = root.locator(".dw-tag-chip[data-tag='hard cases']")
    chip.wait_for()
    assert chip.locator(".dw-tag-count").inner_text() == "6"
    # a name that looks like HTML stays text
    nb.kernel.exec("gal.selection = [1, 2]")
    _poll(lambda: items.count() == 2, what="two images")
    root.locator("input.dw-tag-name").fill("<b>bold</b>")
    root.locator("input.dw-tag-name").press("Enter")
    _poll(lambda: "<b>bold</b>" in nb.kernel.eval("eng.tags"), what="html-like tag in the kernel")
    html_chip = root.locator(".dw-tag-chip[data-tag='<b>bold</b>']")
    html_chip.wait_for()
    assert "<b>bold</b>" in html_chip.inner_text() and root.locator(".dw-tag-chips b").count() == 0

    # clicking a chip selects its images
    nb.kernel.exec("gal.selection = []")
    empty.wait_for(state="visible")
    chip.locator("button.dw-tag-select").click()
    _poll(lambda: nb.kernel.eval("gal.selection") == SELECTED, what="the tag's images selected in the kernel")
    _poll(lambda: items.count() == len(SELECTED), what="the tag's images shown")
    shown = sorted(int(i) for i in items.evaluate_all("els => els.map(e => e.dataset.index)"))
    assert shown == SELECTED

    # filters: correctness within the selection, then a split over all images
    root.locator("select.dw-filter-correct").select_option("wrong")
    _poll(lambda: nb.kernel.eval("gal.filter_correct") == "wrong", what="filter in the kernel")
    n_wrong = nb.kernel.eval(f"int((~eng.evaluate(v2).correct[{SELECTED}]).sum())")
    _poll(lambda: root.locator(".dw-count").inner_text() == f"showing {n_wrong} of {len(SELECTED)}", what="showing wrong")
    assert items.count() == n_wrong
    root.locator("select.dw-filter-correct").select_option("")
    nb.kernel.exec("gal.selection = []")
    root.locator("select.dw-filter-split").select_option("val")
    _poll(lambda: root.locator(".dw-count").inner_text() == "showing 120 of 820", what="val of all images")
    assert nb.kernel.eval("(gal.total, gal.base_total)") == [120, 820]
    _poll(lambda: items.count() == 12, what="a page of val images")
    shown = [int(i) for i in items.evaluate_all("els => els.map(e => e.dataset.index)")]
    assert nb.kernel.eval(f"sorted(set(ds.split[{shown}].tolist()))") == ["val"]

    # click an image: the detail panel shows it large, its mask, its map and every version
    first = shown[0]
    items.first.locator("canvas").click()
    _poll(lambda: nb.kernel.eval("gal.focus") == first, what="focus in the kernel")
    panel = root.locator(".dw-gallery-detail")
    _poll(lambda: root.get_attribute("data-detail") == str(first), what="detail panel")
    big = panel.locator(".dw-detail-image canvas")
    assert big.evaluate("c => [c.width, c.height]") == [32, 32]
    assert big.bounding_box()["width"] >= 160  # upscaled, pixelated
    assert panel.locator(".dw-detail-mask canvas").count() == 1 and panel.locator(".dw-detail-heat > canvas").count() == 1
    heat = panel.locator(".dw-detail-heat")
    assert heat.locator(".dw-cbar canvas").count() == 1 and "relevance" in heat.inner_text()
    lo, hi = nb.kernel.eval(f"[float(m) for m in (eng.image_detail({first}, v2)['heat'].min(), eng.image_detail({first}, v2)['heat'].max())]")
    ticks = heat.locator(".dw-cbar-ticks").inner_text().split()
    assert ticks[1:3] == ["low", "high"]
    assert float(ticks[0]) == pytest.approx(lo, rel=0.05, abs=1e-12) and float(ticks[3]) == pytest.approx(hi, rel=0.05)
    rows = panel.locator("tr.dw-history-row")
    assert rows.count() == nb.kernel.eval("len(eng.versions)") == 2
    history = nb.kernel.eval(f"eng.image_detail({first}, v2)['history']")
    for k, h in enumerate(history):
        cells = rows.nth(k).locator("td").all_inner_texts()
        assert cells[0] == h["version"] and cells[1] == h["prediction"]
        assert cells[2] == f"{100 * h['confidence']:.1f} %"
    assert panel.locator("tr.dw-current").get_attribute("data-version") == "v2"

    # export: the download is the kernel's table of what is shown (all pages)
    with page.expect_download() as info:
        root.locator("button.dw-export").click()
    assert info.value.suggested_filename == "gallery-v2.csv"
    got = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert [int(r["index"]) for r in got] == nb.kernel.eval("gal.ordered().tolist()")
    frame = nb.kernel.eval("gal.to_dataframe()[['prediction', 'confidence', 'correct']].astype(str).values.tolist()")
    assert [[r["prediction"], r["correct"]] for r in got] == [[p, c] for p, _, c in frame]
    assert all(r["split"] == "val" for r in got) and list(got[0]) == [
        "index", "split", "label", "prediction", "confidence", "correct", "tags"]

    # readable in this theme, with chips, filters and the detail panel showing
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    screenshot(page, f"gallery-tags-detail-{themed_lab.theme}")
    report = contrast(page, ".dw-gallery")
    assert report["n"] > 20 and report["min"] >= 4.5, report["worst"]

    # remove a tag from its chip
    html_chip.locator("button.dw-tag-remove").click()
    _poll(lambda: nb.kernel.eval("eng.tags") == {"hard cases": SELECTED}, what="tag removed in the kernel")
    _poll(lambda: root.locator(".dw-tag-chip").count() == 1, what="one chip left")
