"""The debias loop in a real JupyterLab: pick a style cluster and source images, augment, review
the results, retrain from the board with them, and see the new version and its trace."""

from __future__ import annotations

from browser_helpers import _poll

SETUP = (  # a small biased set and a 2-epoch model, shared by both notebooks
    "import numpy as np, ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('colored-digits', bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=2, progress=False)"
)
CELLS = [
    SETUP,
    "gal = dw.ImageGallery(eng, v1, page_size=12)\n"
    "clusters = dw.ClusterGallery(eng, v1, k=5)\n"
    "augview = dw.AugmentedView(eng)\n"
    "board = dw.ClassifierBoard(eng)\n"
    "trace = dw.TraceView(eng)\n"
    "links = dw.link(gal, clusters)\n"
    "w.VBox([clusters, augview, board, trace])",
]


def test_style_cluster_augment_review_retrain_and_trace(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "augment.ipynb", CELLS, timeout=240)
    root = page.locator(".dw-clusters")
    _poll(lambda: root.get_attribute("data-clusters") == "5" and root.get_attribute("data-ready"), what="5 clusters")
    assert page.locator(".dw-clusters .dw-cluster-col").count() == 5
    assert page.locator(".dw-clusters .dw-cluster-rep").count() == 30  # 6 representatives each
    reps = nb.kernel.eval("clusters.reps[0]")
    shown = page.locator(".dw-cluster-col[data-cluster='0'] .dw-cluster-rep").evaluate_all("els => els.map(e => Number(e.dataset.index))")
    assert shown == reps
    assert page.locator(".dw-trace .dw-empty").is_visible()  # one version: nothing to trace yet

    # no source yet: Augment is disabled and the hint says how to choose one
    hint = page.locator(".dw-clusters .dw-aug-hint")
    assert page.locator(".dw-clusters button.dw-augment").is_disabled()
    assert "Sources: none yet" in hint.inner_text()
    # source images: a selection from Python, shared by the linked gallery; style: cluster 2
    nb.kernel.exec("gal.selection = [int(i) for i in np.flatnonzero(ds.split == 'train')[:40]]")
    _poll(lambda: "40 source image" in page.locator(".dw-clusters .dw-aug-info").inner_text(), what="40 sources")
    assert "40 image(s) from the linked selection, all 40 train" in hint.inner_text()
    page.locator(".dw-cluster-col[data-cluster='2'] .dw-cluster-head").click()
    _poll(lambda: root.get_attribute("data-style") == "2", what="style cluster 2 picked")
    page.locator(".dw-clusters select.dw-aug-method").select_option("color")
    page.locator(".dw-clusters button.dw-augment").click()
    _poll(lambda: root.get_attribute("data-made") == "a1", what="augmentation a1 made")
    assert nb.kernel.eval("eng.augmentation('a1').style") == {"version": "v1", "k": 5, "cluster": 2}

    # the augmented view shows originals beside results; reject two of them
    view = page.locator(".dw-augmented")
    _poll(lambda: view.get_attribute("data-history") == "a1", what="a1 in the augmented view")
    _poll(lambda: page.locator(".dw-augmented .dw-pair").count() == 24, what="a page of pairs")
    assert page.locator(".dw-augmented .dw-pair canvas").count() == 48
    page.locator(".dw-augmented .dw-pair[data-row='0']").click()
    _poll(lambda: view.get_attribute("data-accepted") == "39", what="one rejected")
    page.locator(".dw-augmented .dw-pair[data-row='1']").click()
    _poll(lambda: view.get_attribute("data-accepted") == "38", what="two rejected")
    assert nb.kernel.eval("int(eng.augmentation('a1').accepted.sum())") == 38
    page.locator(".dw-augmented").scroll_into_view_if_needed()
    screenshot(page, "augmented-view")

    # retrain from the board with the augmentation
    board = page.locator(".dw-board")
    page.locator(".dw-board input.dw-use-aug[data-augmentation='a1']").check()
    page.locator(".dw-board input.dw-epochs").fill("1")
    page.locator(".dw-board input.dw-epochs").dispatch_event("change")
    page.locator(".dw-board select.dw-parent").select_option("v1")
    page.locator(".dw-board button.dw-train").click()
    _poll(lambda: board.get_attribute("data-versions") == "v1,v2", timeout=120, what="v2 trained")
    assert nb.kernel.eval("eng.version('v2').lineage['augmentations']") == ["a1"]
    assert nb.kernel.eval("eng.version('v2').lineage['augmented_images']") == 38
    row = page.locator(".dw-board .dw-version-row[data-version='v2']")
    assert "1 augmentation(s)" in row.inner_text()

    # the trace now follows both versions, colours matching the flips
    tr = page.locator(".dw-trace")
    _poll(lambda: tr.get_attribute("data-images") == "250", what="the trace of v1 -> v2")
    right, wrong = nb.kernel.eval("[len(eng.compare('v1', 'v2').became_right), len(eng.compare('v1', 'v2').became_wrong)]")
    assert int(tr.get_attribute("data-red")) == right and int(tr.get_attribute("data-blue")) == wrong
    tr.scroll_into_view_if_needed()
    screenshot(page, "debias-loop-trace")
    errors = [e for e in page.console_errors if "pageerror" in e]
    assert not errors, errors


TRANSLATE_CELLS = [
    SETUP,
    "clusters = dw.ClusterGallery(eng, v1, k=4)\n"
    "clusters.selection = [int(i) for i in np.flatnonzero(ds.split == 'train')[:16]]\n"
    "clusters",
]


def test_translate_trains_the_translator_in_a_job_that_cancels_and_then_augments(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "translate.ipynb", TRANSLATE_CELLS, timeout=240)
    root = page.locator(".dw-clusters")
    _poll(lambda: root.get_attribute("data-clusters") == "4" and root.get_attribute("data-ready"), what="4 clusters")
    page.locator(".dw-cluster-col[data-cluster='1'] .dw-cluster-head").click()
    _poll(lambda: root.get_attribute("data-style") == "1", what="style cluster 1 picked")
    page.locator(".dw-clusters select.dw-aug-method").select_option("translate")

    # a long training: progress shows, Cancel stops it, nothing is made
    nb.kernel.exec("clusters.steps = 100000")
    page.locator(".dw-clusters button.dw-augment").click()
    _poll(lambda: root.get_attribute("data-state") == "running", what="translator job running")
    _poll(lambda: float(root.get_attribute("data-progress") or 0) > 0, timeout=60, what="progress reported")
    assert page.locator(".dw-clusters .dw-progress").is_visible()
    assert page.locator(".dw-clusters button.dw-augment").is_disabled()
    page.locator(".dw-clusters button.dw-cancel").click()
    _poll(lambda: root.get_attribute("data-state") == "cancelled", timeout=30, what="cancelled")
    assert "cancelled: nothing was made" in page.locator(".dw-clusters .dw-aug-info").inner_text()
    assert nb.kernel.eval("len(eng.augmentations)") == 0
    assert not page.locator(".dw-clusters button.dw-cancel").is_visible()

    # a short training runs to the end and the augmentation follows it
    nb.kernel.exec("clusters.steps = 40")
    page.locator(".dw-clusters button.dw-augment").click()
    _poll(lambda: root.get_attribute("data-made") == "a1", timeout=120, what="translated augmentation a1")
    assert root.get_attribute("data-state") == "done"
    aug = nb.kernel.eval("[eng.augmentation('a1').method, eng.augmentation('a1').style, len(eng.augmentation('a1'))]")
    assert aug == ["translate", {"version": "v1", "k": 4, "cluster": 1}, 16]
    assert "land in their style cluster" in page.locator(".dw-clusters .dw-aug-info").inner_text()
    screenshot(page, "translate-done")
    errors = [e for e in page.console_errors if "pageerror" in e]
    assert not errors, errors
