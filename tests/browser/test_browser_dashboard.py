"""dw.Dashboard in a real JupyterLab, light and dark: the tabs render with the Audit views built
and no other tab's; clicking a tab builds its views in the kernel and shows them; a lasso in the
Audit tab's projection reaches the gallery, and — through the browser's jslinks, the kernel
propagating nothing — the Fix tab's cluster gallery, which shows the new selection's count.
An untrained engine's dashboard shows a message (no traceback) until a version exists, and the
board's picked pair drives the mosaic built in the Compare tab once a second version exists.
Screenshots: ``artifacts/screenshots/dashboard-audit-<theme>.png``, ``dashboard-fix-<theme>.png``
and ``dashboard-compare-light.png``."""

from __future__ import annotations

from browser_helpers import _drag, _poll, _ready, contrast

SETUP = [
    "import dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=300, n_val=60, n_test=100)\n"
    "eng = dw.Engine(ds)\n"
    "v = eng.train(epochs=1, progress=False)",
    "d = dw.Dashboard(eng)\nproj = d.views['projection']\nd",
]

TITLES = ["Audit", "Compare", "Fix", "Neurons", "Regions & criticism", "Report"]


def _lasso(page, rect, fx0, fx1):
    """A box-shaped lasso over the horizontal fraction [fx0, fx1] of the plot."""
    x, y, w, h = rect["x"], rect["y"], rect["width"], rect["height"]
    _drag(page, [(x + fx0 * w, y + 0.15 * h), (x + fx1 * w, y + 0.15 * h), (x + fx1 * w, y + 0.85 * h), (x + fx0 * w, y + 0.85 * h)])


def test_tabs_build_lazily_and_a_lasso_reaches_another_panel(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"dashboard-{theme}.ipynb", SETUP, timeout=240)
    root = page.locator(".dw-dashboard")
    root.wait_for(timeout=30_000)
    tabs = root.locator(".dw-dashboard-tabs .lm-TabBar-tab")
    assert [t.strip() for t in tabs.all_inner_texts()] == TITLES
    assert nb.kernel.eval("d.built") == ["Audit"] and nb.kernel.eval("list(d.views)") == ["projection", "gallery", "attribution"]
    assert root.locator(".dw-clusters").count() == 0 and root.locator(".dw-subgroups").count() == 0

    # a lasso in the projection selects images; the gallery (same tab) shows them
    canvas, rect, _ = _ready(nb)
    _lasso(page, rect, 0.1, 0.5)
    sel = _poll(lambda: nb.kernel.eval("proj.selection"), what="a lasso selection")
    _poll(lambda: nb.kernel.eval("d.views['gallery'].selection") == sel, what="the gallery's selection = the lasso's")
    root.locator(".dw-projection").scroll_into_view_if_needed()
    report = contrast(page, ".dw-dashboard-tabs .lm-TabBar")
    assert report["n"] >= 5 and report["min"] >= 3, report["worst"]
    screenshot(page, f"dashboard-audit-{theme}")

    # clicking the Fix tab builds its views in the kernel; the browser shows them
    tabs.filter(has_text="Fix").click()
    _poll(lambda: "Fix" in nb.kernel.eval("d.built"), what="the Fix tab built")
    assert nb.kernel.eval("[type(v).__name__ for v in d.tabs.children[2].children]") == ["ClusterGallery", "AugmentedView"]
    clusters = root.locator(".dw-clusters")
    clusters.wait_for(state="visible", timeout=60_000)
    assert nb.kernel.eval("sorted(d.views)") == ["attribution", "augmented", "clusters", "gallery", "projection"]
    assert nb.kernel.eval("d.views['clusters'].selection") == sel

    # back in Audit, a new lasso: the cluster gallery in the Fix tab follows through the browser's link
    tabs.filter(has_text="Audit").click()
    canvas, rect, _ = _ready(nb)
    _lasso(page, rect, 0.5, 0.9)
    sel2 = _poll(lambda: (s := nb.kernel.eval("proj.selection")) != sel and s, what="a second lasso selection")
    _poll(lambda: nb.kernel.eval("d.views['clusters'].selection") == sel2, what="the cluster gallery's selection = the new lasso's")
    tabs.filter(has_text="Fix").click()
    hint = clusters.locator(".dw-aug-hint")
    _poll(lambda: hint.inner_text().startswith(f"Sources: {len(sel2)} image(s) from the linked selection"),
          what=f"the cluster gallery's hint counting {len(sel2)} linked images")
    page.locator(".dw-clusters[data-clusters]").first.wait_for(timeout=60_000)
    clusters.scroll_into_view_if_needed()
    screenshot(page, f"dashboard-fix-{theme}")


UNTRAINED = [
    "import dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=300, n_val=60, n_test=100)\n"
    "eng = dw.Engine(ds)",
    "d = dw.Dashboard(eng)\nd",
]


def test_untrained_engine_message_then_the_board_pair_drives_the_mosaic(page, lab, open_notebook, screenshot):
    nb = open_notebook(page, lab, "dashboard-untrained.ipynb", UNTRAINED, timeout=240)
    root = page.locator(".dw-dashboard")
    banner = root.locator(".dw-dashboard-error")
    banner.wait_for(state="visible", timeout=30_000)
    assert "no trained version yet" in banner.inner_text()
    assert root.locator(".dw-dashboard-note").count() == 3  # one line per Audit view, no traceback
    # the Compare tab: the board is there to train; the mosaic says what it waits for
    root.locator(".dw-dashboard-tabs .lm-TabBar-tab").filter(has_text="Compare").click()
    root.locator(".dw-board").wait_for(state="visible", timeout=30_000)
    assert "needs at least two versions" in root.locator(".dw-dashboard-note").filter(has_text="mosaic").inner_text()
    nb.kernel.exec("v1 = eng.train(epochs=1, progress=False)\nv2 = eng.train(epochs=1, progress=False)", timeout=240)
    banner.wait_for(state="hidden", timeout=30_000)
    # the mosaic appears (second version), linked to the board's pair as it appears
    _poll(lambda: "mosaic" in nb.kernel.eval("list(d.views)"), what="the mosaic built once a second version exists")
    root.locator(".dw-mosaic").wait_for(state="visible", timeout=30_000)
    # the board's pick changes the mosaic's versions through the browser's link (not the kernel)
    nb.kernel.exec("v3 = eng.train(epochs=1, progress=False)", timeout=240)
    pair = nb.kernel.eval("[v1.id, v3.id]")
    assert nb.kernel.eval("d.views['mosaic'].versions") != pair
    nb.kernel.exec("d.views['board'].compare = [v1.id, v3.id]")
    _poll(lambda: nb.kernel.eval("d.views['mosaic'].versions") == pair, what=f"the mosaic's versions = the board's pair {pair}")
    root.locator(".dw-mosaic").scroll_into_view_if_needed()
    screenshot(page, "dashboard-compare-light")
