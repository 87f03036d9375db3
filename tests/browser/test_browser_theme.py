"""Every view read in JupyterLab's light and dark themes: text contrast (WCAG) of every label,
legend, button and status line against the background it sits on, and plot surfaces that follow
the theme instead of staying white. Screenshots: ``artifacts/screenshots/theme-<view>-<theme>.png``."""

from __future__ import annotations

from browser_helpers import canvas_background, contrast, luminance

# 4.5 is WCAG AA for body text; our labels are 11-12 px, so AA for small text is what applies.
MIN_CONTRAST = 4.5

SETUP = [
    "import ipywidgets as w, dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=1, progress=False)\n"
    "v2 = eng.train(epochs=2, progress=False)",
    "proj = dw.ProjectionView(eng, v2, height=320)\n"
    "gal = dw.ImageGallery(eng, v2, page_size=12)\n"
    "grid = dw.AttributionGrid(eng, v2, page_size=6)\n"
    "board = dw.ClassifierBoard(eng)\n"
    "mosaic = dw.MosaicView(eng, v1, v2)\n"
    "trace = dw.TraceView(eng)\n"
    "clusters = dw.ClusterGallery(eng, v2, k=4)\n"
    "augview = dw.AugmentedView(eng)\n"
    "subgroups = dw.SubgroupPanel(eng, v2, k=8)\n"
    "subgroups.subgroup = (subgroups.subgroups().under or [-1])[0]\n"
    "subgroups.focus = 5\n"
    "from dashwidgets.widgets.concepts import ConceptWindow\n"
    "concepts = ConceptWindow(eng, v2, neuron=(dw.models.conv_layers(eng.model(v2))[-1], 0))\n"
    "links = dw.link(proj, gal, grid, mosaic, trace, clusters)\n"
    "w.VBox([proj, gal, grid, board, mosaic, trace, clusters, augview, concepts, subgroups])",
]

VIEWS = ["projection", "gallery", "attribution", "board", "mosaic", "trace", "clusters", "augmented", "concepts", "subgroups"]
ROOT = {
    "projection": ".dw-projection", "gallery": ".dw-gallery", "attribution": ".dw-attribution",
    "board": ".dw-board", "mosaic": ".dw-mosaic", "trace": ".dw-trace", "clusters": ".dw-clusters",
    "augmented": ".dw-augmented", "concepts": ".dw-concepts",
    "subgroups": ".dw-subgroups",
}


SETUP.append(  # NeuronPanel with a subgroup picked and a neuron clicked
    "from dashwidgets.widgets.neurons import NeuronPanel\n"
    "neurons = NeuronPanel(eng, v2)\n"
    "neurons.subgroup = (eng.subgroups(v2).under or [-1])[0]\n"
    "if neurons.neurons.get('neuron'):\n"
    "    neurons.neuron = {'layer': neurons.neurons['bands'][neurons.neurons['band'][0]], 'neuron': neurons.neurons['neuron'][0]}\n"
    "neurons"
)
VIEWS.append("neurons")
ROOT["neurons"] = ".dw-neurons"

SETUP.append("criticism = dw.CriticismView(eng, v2, sample=100)\ncriticism")  # rows and enrichment bars
VIEWS.append("criticism")
ROOT["criticism"] = ".dw-criticism"

SETUP.append(  # RegionView: maps, previews and the reliability diagram of a 1-epoch region classifier
    "regions = dw.RegionView(eng, eng.region_classifier(epochs=1, progress=False), images=ds.indices('val')[:4])\n"
    "regions"
)
VIEWS.append("regions")
ROOT["regions"] = ".dw-regions"


def test_every_view_is_readable_in_the_theme(page, themed_lab, open_notebook):
    open_notebook(page, themed_lab, f"theme-{themed_lab.theme}.ipynb", SETUP, timeout=300)
    dark = page.evaluate("document.body.dataset.jpThemeLight") == "false"
    assert dark == (themed_lab.theme == "dark"), "the server's theme setting did not reach the page"
    page_bg = page.evaluate("getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim()")
    failures = []
    for view in VIEWS:
        root = page.locator(ROOT[view]).first
        root.wait_for(timeout=60_000)
        root.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(_shot(view, themed_lab.theme)))
        report = contrast(page, ROOT[view])
        assert report["n"] > 0, f"{view}: no text found"
        if report["min"] < MIN_CONTRAST:
            failures.append(f"{view}: min contrast {report['min']:.2f}; worst {report['worst']}")
    for selector in (".dw-mosaic canvas", ".dw-trace canvas"):
        bg = canvas_background(page, selector)
        if bg is not None and (luminance(bg) < 0.2) != dark:
            failures.append(f"{selector} paints a {'light' if not dark else 'dark'}-theme background {bg} (page {page_bg})")
    plot_bg = page.locator(".dw-projection div.dw-plot").first.evaluate("n => getComputedStyle(n).backgroundColor")
    assert plot_bg.replace(" ", "") != "rgb(255,255,255)" or not dark, "the projection's plot stays white in the dark theme"
    assert not failures, "\n".join(failures)


def _shot(view, theme):
    from conftest import screenshot_path

    return screenshot_path(f"theme-{view}-{theme}")
