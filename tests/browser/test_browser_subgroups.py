"""SubgroupPanel in a real JupyterLab (light and dark), driven like a user: read the rows, click a
subgroup (its pair, both confusion matrices with a colour bar, the linked gallery's selection),
click an image (the Grad-CAM window), type a bad k (the engine's message) and fix it. Kernel state
is read through a second client on the same kernel. Screenshots:
``artifacts/screenshots/subgroups-picked-<theme>.png``."""

from __future__ import annotations

from browser_helpers import _poll, contrast

SETUP = [
    "import dataclasses, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "ds = dataclasses.replace(ds, classes=[f'<b>{c}</b>' if c == '1' else c for c in ds.classes])\n"
    "eng = dw.Engine(ds)\n"
    "v = eng.train(epochs=2, progress=False)",
    "panel = dw.SubgroupPanel(eng, v, k=8)\n"
    "gal = dw.ImageGallery(eng, v, page_size=12)\n"
    "links = dw.link(panel, gal)\n"
    "panel",
]


def test_pick_a_subgroup_see_its_pair_matrices_and_grad_cam(page, themed_lab, open_notebook, screenshot):
    nb = open_notebook(page, themed_lab, f"subgroups-{themed_lab.theme}.ipynb", SETUP, timeout=300)
    root = page.locator(".dw-subgroups")
    rows = root.locator(".dw-sg-rows > .dw-sg-row")
    under = nb.kernel.eval("panel.subgroups().under")
    assert under, "the notebook's model must have an under-performing subgroup at k=8"
    _poll(lambda: rows.count() == len(under), what="one row per under-performing subgroup")
    assert [int(i) for i in rows.evaluate_all("els => els.map(e => e.dataset.id)")] == under  # worst first
    s = nb.kernel.eval("panel.summary")
    header = root.locator(".dw-sg-header").inner_text()
    assert f"overall accuracy {100 * s['overall_accuracy']:.1f} %" in header and "k = 8" in header
    assert f"{len(under)} under-performing" in header and "accuracy < 0.5 × overall" in header
    # every shown image is drawn; wrong ones (and only they) carry the × marker
    _poll(lambda: root.get_attribute("data-loaded") is not None, what="atlas drawn")
    shown = nb.kernel.eval("[im for r in panel.rows for im in r['images']]")
    thumbs = rows.locator(".dw-sg-thumb")
    assert thumbs.count() == len(shown)
    assert rows.locator(".dw-sg-thumb.dw-wrong .dw-sg-x").count() == sum(not im["correct"] for im in shown)
    assert rows.locator(".dw-sg-thumb:not(.dw-wrong) .dw-sg-x").count() == 0
    first_canvas_blank = thumbs.first.locator("canvas").evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.every((v, i) => i % 4 === 3 || v === 0)")
    assert not first_canvas_blank, "the thumbnail canvas was never drawn"
    more = nb.kernel.eval("panel.rows[0]['more']")
    if more:
        assert rows.first.locator(".dw-sg-more").inner_text() == f"+{more} more"

    # click the worst subgroup: its pair, both matrices, the linked gallery selects its images
    worst = under[0]
    rows.first.locator(".dw-sg-head").click()
    _poll(lambda: nb.kernel.eval("panel.subgroup") == worst, what="subgroup in the kernel")
    members = nb.kernel.eval(f"panel.subgroups().members({worst}).tolist()")
    _poll(lambda: nb.kernel.eval("gal.selection") == members, what="linked gallery selection")
    _poll(lambda: root.get_attribute("data-picked") == str(worst), what="picked section")
    assert "dw-picked" in rows.first.get_attribute("class")
    pair = nb.kernel.eval(f"panel.subgroups().pair({worst})")
    picked = root.locator(".dw-sg-picked")
    pair_row = picked.locator(".dw-sg-row.dw-sg-pair")
    assert pair_row.get_attribute("data-id") == str(pair)
    assert pair_row.locator(".dw-sg-thumb").count() == len(nb.kernel.eval("panel.picked['pair']['images']"))
    matrices = picked.locator(".dw-sg-matrix")
    assert matrices.count() == 2
    classes = nb.kernel.eval("eng.classes")
    for m, which in ((matrices.nth(0), worst), (matrices.nth(1), pair)):
        assert m.locator(".dw-sg-xtitle").inner_text() == "predicted class"
        assert m.locator(".dw-sg-ytitle").inner_text() == "true class"
        assert m.locator(".dw-sg-col").all_inner_texts() == classes
        assert m.locator(".dw-sg-rowtick").all_inner_texts() == classes
        counts = [int(t) for t in m.locator(".dw-sg-cell").all_inner_texts()]
        assert counts == nb.kernel.eval(f"panel.subgroups().confusion({which}).ravel().tolist()")
    assert "<b>1</b>" in classes and root.locator("b").count() == 0  # class names stay text
    cbar = picked.locator(".dw-sg-cbar")
    assert cbar.locator("canvas").count() == 1 and "number of images" in cbar.inner_text()
    assert cbar.locator(".dw-sg-cbar-ticks span").last.inner_text() == str(nb.kernel.eval("panel.picked['max_count']"))

    # click an image of the pair: the Grad-CAM window opens for it
    index = int(pair_row.locator(".dw-sg-thumb").first.get_attribute("data-index"))
    pair_row.locator(".dw-sg-thumb").first.click()
    _poll(lambda: nb.kernel.eval("panel.focus") == index, what="focus in the kernel")
    _poll(lambda: root.get_attribute("data-detail") == str(index), what="Grad-CAM window")
    window = root.locator(".dw-sg-detail")
    assert window.is_visible() and "Grad-CAM relevance" in window.inner_text()
    assert window.locator(".dw-detail-heat canvas").count() == 2  # the map and its colour bar
    assert nb.kernel.eval("panel.subgroup") == worst  # an image click keeps the pick

    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    screenshot(page, f"subgroups-picked-{themed_lab.theme}")
    report = contrast(page, ".dw-subgroups")
    assert report["n"] > 40 and report["min"] >= 4.5, report["worst"]

    # close the window; a bad k shows the engine's message, a good one brings the rows back
    window.locator("button.dw-sg-close").click()
    _poll(lambda: nb.kernel.eval("panel.focus") == -1, what="focus cleared")
    _poll(lambda: not window.is_visible(), what="Grad-CAM window closed")
    k = root.locator("input.dw-sg-k")
    k.fill("5000")
    k.press("Enter")
    k.blur()
    banner = root.locator(".dw-error")
    _poll(lambda: banner.is_visible() and "k=5000" in banner.inner_text(), what="error banner")
    assert banner.inner_text() == nb.kernel.eval("panel.error")
    assert rows.count() == 0 and nb.kernel.eval("panel.subgroup") == -1
    k.fill("")
    k.blur()
    _poll(lambda: nb.kernel.eval("panel.error") == "" and not banner.is_visible(), what="error cleared")
    _poll(lambda: rows.count() == len(nb.kernel.eval("panel.rows")), what="rows back")

    # a k where no subgroup under-performs: the view says so plainly
    k_none = nb.kernel.eval("next(k for k in range(2, 12) if not eng.subgroups(v, k=k).under)")
    k.fill(str(k_none))
    k.blur()
    empty = root.locator(".dw-sg-rows > .dw-empty")
    _poll(lambda: empty.count() == 1, what="no-subgroup message")
    assert empty.inner_text().startswith("no subgroup under-performs: every subgroup's accuracy ≥ 0.5 × overall")
    assert "0 under-performing" in root.locator(".dw-sg-header").inner_text()
