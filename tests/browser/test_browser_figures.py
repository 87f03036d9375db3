"""A result's ``.plot()`` in a real JupyterLab, light and dark: the plotly figure draws with its
title, axis titles and legend entries (the result's own names); and the same figure saved with
``to_html`` draws in a page that may not reach the network (every non-file request is refused).
Screenshots: ``artifacts/screenshots/figure-<theme>.png`` and ``figure-offline.png``."""

from __future__ import annotations

from browser_helpers import _poll

SETUP = [
    "import dashwidgets as dw\n"
    "v = dw.ModelVersion('v1', None, history=[\n"
    "    {'epoch': e, 'train_loss': 2.0 / e, 'val_loss': 2.2 / e, 'val_accuracy': 0.3 * e, 'seconds': 1.0}\n"
    "    for e in (1, 2, 3)])\n"
    "fig = v.plot()\n"
    "fig",
]


def _drawn(root):
    return root.evaluate("""el => ({
        title: el.querySelector('.gtitle')?.textContent ?? null,
        axes: [...el.querySelectorAll('.infolayer g')].filter(g => /^g-[xy]\\d*title$/.test(g.getAttribute('class')))
            .map(t => t.textContent),
        legend: [...el.querySelectorAll('.legend .legendtext')].map(t => t.textContent),
        lines: el.querySelectorAll('.scatterlayer .trace').length,
    })""")


def _check(drawn):
    assert drawn["title"] == "Training history of v1"
    assert {"epoch", "cross-entropy (nats)", "val. accuracy (%)"} <= set(drawn["axes"])
    assert drawn["legend"] == ["train loss", "validation loss", "validation accuracy"]
    assert drawn["lines"] == 3


def test_plot_draws_in_jupyterlab(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    open_notebook(page, themed_lab, f"figure-{theme}.ipynb", SETUP, timeout=120)
    root = page.locator(".jp-RenderedPlotly").first
    root.locator(".main-svg").first.wait_for(timeout=60_000)
    _poll(lambda: _drawn(root)["lines"] == 3, timeout=30)
    _check(_drawn(root))
    screenshot(page, f"figure-{theme}")


def test_exported_figure_draws_without_the_network(page, tmp_path, screenshot):
    import dashwidgets as dw

    v = dw.ModelVersion("v1", None, history=[
        {"epoch": e, "train_loss": 2.0 / e, "val_loss": 2.2 / e, "val_accuracy": 0.3 * e, "seconds": 1.0}
        for e in (1, 2, 3)])
    out = tmp_path / "figure.html"
    v.plot().write_html(out, include_plotlyjs=True, full_html=True)
    refused = []

    def guard(route):
        if route.request.url.startswith("file://"):
            return route.continue_()
        refused.append(route.request.url)
        return route.abort()

    page.route("**/*", guard)
    page.goto(out.as_uri())
    root = page.locator(".plotly-graph-div").first
    root.locator(".main-svg").first.wait_for(timeout=30_000)
    _check(_drawn(root))
    assert refused == [], f"the exported page asked the network for {refused}"
    screenshot(page, "figure-offline")
