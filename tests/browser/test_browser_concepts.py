"""ConceptWindow in a real JupyterLab, light and dark: the kernel picks a subgroup and a neuron (as
linked SubgroupPanel and NeuronPanel clicks would), the window says it is computing, then shows the
neuron's name, its two activation scores, its top images and its concept patches drawn with hard
pixel edges; clicking a patch focuses its source image. Screenshots:
``artifacts/screenshots/concepts-<theme>.png``."""

from __future__ import annotations

import pytest
from browser_helpers import _poll, contrast

SETUP = [
    "import time, ipywidgets as w, dashwidgets as dw\n"
    "from dashwidgets.widgets.concepts import ConceptWindow\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v = eng.train(epochs=2, progress=False)\n"
    "sg = eng.subgroups(v, k=6)\n"
    "u = next(i for i in sg.under if sg.pair(i) is not None)\n"
    "layer = dw.models.conv_layers(eng.model(v))[-1]\n"
    "t = eng.neuron_scores(v, {'under': sg.members(u), 'well': sg.members(sg.pair(u))}, layers=[layer])\n"
    "n = int(t.loc[(t['under'] + t['well']).idxmax(), 'neuron'])  # a neuron with bars to see\n"
    "_concepts = eng.concepts\n"
    "def slow_concepts(*a, **k):  # keeps 'computing concepts…' on screen long enough to be read\n"
    "    time.sleep(4)\n"
    "    return _concepts(*a, **k)\n"
    "eng.concepts = slow_concepts",
    "cw = ConceptWindow(eng, v, k=6)\ncw",
]


def _patch_pixels(page, k, side):
    """[r, g, b] at the centre of every source pixel of patch ``k`` as the page drew it, row-major."""
    return page.locator(".dw-concepts-patch canvas").nth(k).evaluate(
        """(c, side) => {
          const step = c.width / side, ctx = c.getContext('2d'), out = [];
          for (let i = 0; i < side; i++) for (let j = 0; j < side; j++) {
            const d = ctx.getImageData(Math.floor((j + 0.5) * step), Math.floor((i + 0.5) * step), 1, 1).data;
            out.push([d[0], d[1], d[2]]);
          }
          return out;
        }""",
        side,
    )


def test_a_picked_neuron_shows_its_scores_images_and_patches(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"concepts-{theme}.ipynb", SETUP, timeout=240)
    root = page.locator(".dw-concepts")
    root.locator(".dw-empty").wait_for(state="visible", timeout=30_000)
    layer, n, u, pair, vid = nb.kernel.eval("[layer, n, u, sg.pair(u), v.id]")

    # a SubgroupPanel click, then a NeuronPanel click, reach the window (through dw.link in a real
    # notebook): the kernel sets the traits without waiting, so the page can be read meanwhile
    nb.kernel.exec("cw.subgroup = u")
    # the subgroup's own (brief) "computing" round has reached the page before the neuron is picked,
    # so the check below reads the neuron's round, not the tail of the subgroup's
    page.locator(f".dw-concepts[data-rendered='{vid}|||{u}'][data-computing='0']").wait_for(timeout=30_000)
    nb.kernel.client.execute(f"cw.neuron = {{'layer': {layer!r}, 'neuron': {n}}}")
    # one selector: the flag and the status text are read together, not in two round trips
    page.locator(".dw-concepts[data-computing='1'] .dw-concepts-status", has_text="computing concepts…").wait_for(timeout=30_000)
    page.locator(f".dw-concepts[data-rendered='{vid}|{layer}|{n}|{u}'][data-computing='0']").wait_for(timeout=60_000)
    assert root.locator(".dw-concepts-status").inner_text() == ""
    assert nb.kernel.eval("cw.error") == ""
    assert root.locator(".dw-concepts-name").inner_text().startswith(f"Neuron {layer} #{n} of ")

    # the two scores, as the kernel computed them, as bars on a 0-1 axis with a legend
    scores = nb.kernel.eval("cw.scores")
    assert [s["subgroup"] for s in scores] == [u, pair]
    shown = root.locator(".dw-concepts-value").evaluate_all("els => els.map(e => [e.dataset.group, Number(e.dataset.score)])")
    assert shown == [[s["group"], s["score"]] for s in scores]
    fills = root.locator(".dw-concepts-fill").evaluate_all("els => els.map(e => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width)")
    assert fills == [pytest.approx(s["score"], abs=0.01) for s in scores]
    assert root.locator(".dw-concepts-tick").all_inner_texts() == ["0", "0.25", "0.5", "0.75", "1"]
    assert "activation score" in root.locator(".dw-concepts-axis-title").inner_text()
    legend = root.locator(".dw-concepts-scores .dw-legend").inner_text()
    assert f"under-performing subgroup #{u}" in legend and f"well-performing subgroup #{pair}" in legend

    # top images and concept patches in the kernel's order, each patch drawn pixel for pixel
    images = nb.kernel.eval("[it['index'] for it in cw.images]")
    assert root.locator(".dw-concepts-image").evaluate_all("els => els.map(e => Number(e.dataset.index))") == images
    assert root.locator(".dw-concepts-box").count() == nb.kernel.eval("sum(it['box'] is not None for it in cw.images)") > 0
    sources = nb.kernel.eval("[p['source'] for p in cw.patches]")
    assert root.locator(".dw-concepts-patch").evaluate_all("els => els.map(e => Number(e.dataset.source))") == sources
    assert len(sources) == 10
    side = nb.kernel.eval("cw.shown['patch_side']")
    page.locator(".dw-concepts[data-loaded]").wait_for(timeout=10_000)
    for k in (0, len(sources) - 1):
        expected = nb.kernel.eval(f"_concepts(v, layer, n).patches[{k}].transpose(1, 2, 0).reshape(-1, 3)")
        _poll(lambda k=k, expected=expected: _patch_pixels(page, k, side) == expected, what=f"patch {k} drawn")
    rendering = root.locator(".dw-concepts-patch canvas").first.evaluate("c => getComputedStyle(c).imageRendering")
    assert rendering == "pixelated"

    # clicking a patch focuses the image it was cut from
    root.locator(".dw-concepts-patch").nth(2).click()
    _poll(lambda: nb.kernel.eval("cw.focus") == sources[2], what="focus = the patch's source image")
    page.locator(f".dw-concepts-patch.dw-focus[data-source='{sources[2]}']").first.wait_for(timeout=10_000)

    # readable in this theme; the screenshot shows the whole window
    report = contrast(page, ".dw-concepts")
    assert report["n"] > 10 and report["min"] >= 4.5, report["worst"]
    root.scroll_into_view_if_needed()
    screenshot(page, f"concepts-{theme}")
