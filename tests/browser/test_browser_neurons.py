"""NeuronPanel in a real JupyterLab: pick an under-performing subgroup in the panel's menu, see its
neurons in three columns, raise the threshold and see neurons leave, hover one for its scores,
click one and see ``neuron`` set in the kernel. Screenshots ``neurons-<theme>.png``."""

from __future__ import annotations

from browser_helpers import _poll, contrast

CELLS = [
    "import dashwidgets as dw\n"
    "from dashwidgets.widgets.neurons import NeuronPanel\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=2, progress=False)\n"
    "sg = eng.subgroups(v1)\n"
    "def sent(u):  # neurons with a score >= 0.5 for subgroup u or its pair\n"
    "    s = eng.neuron_scores(v1, {'under': sg.members(u), 'well': sg.members(sg.pair(u))})\n"
    "    return int(((s.under >= 0.5) | (s.well >= 0.5)).sum())\n"
    "best = max(sg.under, key=sent)",
    "panel = NeuronPanel(eng, v1)\npanel",
]


def _counts(nb):
    return nb.kernel.eval("{k: len(v) for k, v in panel.columns().items()}")


def test_pick_subgroup_filter_by_threshold_and_click_a_neuron(page, themed_lab, open_notebook, screenshot):
    nb = open_notebook(page, themed_lab, f"neurons-{themed_lab.theme}.ipynb", CELLS, timeout=240)
    root = page.locator(".dw-neurons")
    root.wait_for(timeout=60_000)
    # before a pick: the hint, no plot
    assert "Pick an under-performing subgroup" in page.locator(".dw-neurons .dw-neuron-hint").inner_text()
    assert root.get_attribute("data-shown") == "0"

    best = nb.kernel.eval("best")
    page.locator(".dw-neurons select.dw-neuron-subgroup").select_option(str(best))
    _poll(lambda: nb.kernel.eval("panel.subgroup") == best, what="the subgroup picked in the browser")
    _poll(lambda: root.get_attribute("data-subgroup") == str(best) and int(root.get_attribute("data-shown")) > 0,
          timeout=60, what="neurons drawn")
    counts = _counts(nb)
    shown = int(root.get_attribute("data-shown"))
    assert shown == sum(counts.values()) == nb.kernel.eval("panel.groups['sent']")
    for col in ("under", "both", "well"):
        assert int(root.get_attribute(f"data-{col}")) == counts[col]
        assert page.locator(f".dw-neurons circle.dw-neuron[data-col='{col}']").count() == counts[col]
    titles = page.locator(".dw-neurons svg text.dw-col-title").all_text_contents()
    assert titles[0].startswith(f"Under-performing #{best}") and titles[1].startswith("Both")
    assert titles[2].startswith(f"Well-performing #{nb.kernel.eval('sg.pair(best)')}")
    bands = page.locator(".dw-neurons svg text.dw-band-name").all_text_contents()[1:]
    assert bands == nb.kernel.eval("panel.neurons['bands']")  # one band per conv layer, model order
    # each circle sits in its layer's band and column
    for circle in page.locator(".dw-neurons circle.dw-neuron").all()[:5]:
        layer, n = circle.get_attribute("data-layer"), int(circle.get_attribute("data-neuron"))
        col = circle.get_attribute("data-col")
        assert nb.kernel.eval(f"[(r.layer, r.neuron) for r in panel.columns()[{col!r}].itertuples()]").count([layer, n]) == 1
    root.scroll_into_view_if_needed()
    screenshot(page, f"neurons-{themed_lab.theme}")
    report = contrast(page, ".dw-neurons")
    assert report["min"] >= 4.5, report

    # hover: layer, neuron and both scores
    first = page.locator(".dw-neurons circle.dw-neuron").first
    first.hover()
    tip = page.locator(".dw-neurons .dw-tooltip")
    _poll(lambda: tip.is_visible(), what="tooltip")
    text = tip.inner_text()
    assert f"layer {first.get_attribute('data-layer')}, neuron {first.get_attribute('data-neuron')}" in text
    assert f"under-performing #{best}" in text and "well-performing #" in text

    # Cluster neurons (a short run): each circle gets its cluster id; hovering one marks its mates
    nb.kernel.exec("panel.cluster_params = {'epochs': 1, 'pairs': 200}")
    page.locator(".dw-neurons button.dw-cluster-neurons").click()
    _poll(lambda: root.get_attribute("data-cluster-state") == "done", timeout=180, what="clustering done")
    ids = nb.kernel.eval("panel.clusters")
    assert len(ids) == shown and min(ids) >= 0  # every neuron shown was clustered
    circles = page.locator(".dw-neurons circle.dw-neuron")
    _poll(lambda: [int(c) for c in circles.evaluate_all("els => els.map(e => e.dataset.cluster)")]
          == [ids[int(i)] for i in circles.evaluate_all("els => els.map(e => e.dataset.i)")], what="cluster ids drawn")
    biggest = max(set(ids), key=ids.count)
    member = page.locator(f".dw-neurons circle.dw-neuron[data-cluster='{biggest}']").first
    page.mouse.move(0, 0)
    member.hover()
    _poll(lambda: page.locator(".dw-neurons circle.dw-mate").count() == ids.count(biggest) - 1, what="cluster mates marked")
    assert f"neuron cluster {biggest}" in tip.inner_text()

    # drag the slider up past the first threshold that drops neurons
    t = nb.kernel.eval("next(t / 100 for t in range(55, 101, 5) if sum(map(len, panel.columns(t / 100).values())) < "
                       "sum(map(len, panel.columns(0.5).values())))")
    slider = page.locator(".dw-neurons input.dw-neuron-threshold")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * min(1.0, (t - 0.5) / 0.5 + 0.04), y, steps=8)
    page.mouse.up()
    reached = float(slider.input_value())
    assert reached >= t
    _poll(lambda: abs(nb.kernel.eval("panel.threshold") - reached) < 1e-9, what=f"threshold {reached} synced to the kernel")
    after = int(root.get_attribute("data-shown"))
    assert after < shown and after == sum(_counts(nb).values())
    assert page.locator(".dw-neurons circle.dw-neuron").count() == after

    # the threshold set from Python moves the slider and brings the neurons back
    nb.kernel.exec("panel.threshold = 0.5")
    _poll(lambda: slider.input_value() == "0.5" and int(root.get_attribute("data-shown")) == shown, what="threshold 0.5 again")
    nb.kernel.exec(f"panel.threshold = {reached}")
    _poll(lambda: int(root.get_attribute("data-shown")) == after, what="the raised threshold again")

    # click a neuron: the kernel's neuron follows
    circle = page.locator(".dw-neurons circle.dw-neuron").first
    layer, n = circle.get_attribute("data-layer"), int(circle.get_attribute("data-neuron"))
    circle.click()
    _poll(lambda: nb.kernel.eval("panel.neuron") == {"layer": layer, "neuron": n}, what="neuron set by the click")
    _poll(lambda: root.get_attribute("data-neuron") == f"{layer}:{n}", what="the picked neuron marked")
    assert page.locator(".dw-neurons circle.dw-neuron.dw-picked").count() == 1

    # a refused threshold from Python shows in the view; the kernel lives on
    nb.kernel.exec("try:\n    panel.threshold = 0.3\nexcept Exception:\n    pass")
    _poll(lambda: "threshold must be from 0.5" in page.locator(".dw-neurons .dw-error").inner_text(), what="error shown")
    assert nb.kernel.eval("panel.threshold") == reached


LINKED = [
    "import dashwidgets as dw, ipywidgets as w\n"
    "from dashwidgets.widgets.neurons import NeuronPanel\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=500, n_val=120, n_test=200)\n"
    "eng = dw.Engine(ds)\n"
    "v1 = eng.train(epochs=2, progress=False)",
    "subgroups = dw.SubgroupPanel(eng, v1, k=8)\n"
    "neurons = NeuronPanel(eng, v1, k=8)\n"
    "links = dw.link(subgroups, neurons)\n"
    "w.VBox([subgroups, neurons])",
]


def test_a_subgroup_picked_in_the_subgroup_panel_drives_the_neuron_panel(page, lab, open_notebook):
    nb = open_notebook(page, lab, "neurons-linked.ipynb", LINKED, timeout=240)
    under = nb.kernel.eval("eng.subgroups(v1, k=8).under")
    assert len(under) >= 1
    root = page.locator(".dw-neurons")
    rows = page.locator(".dw-subgroups .dw-sg-rows > .dw-sg-row")
    _poll(lambda: rows.count() == len(under), what="the subgroup rows")
    pick = under[-1]
    page.locator(f".dw-subgroups .dw-sg-row[data-id='{pick}'] .dw-sg-head").click()
    _poll(lambda: nb.kernel.eval("neurons.subgroup") == pick, what="the neuron panel follows the pick")
    _poll(lambda: root.get_attribute("data-subgroup") == str(pick), what="the neuron panel redrawn")
    assert page.locator(".dw-neurons select.dw-neuron-subgroup").input_value() == str(pick)
    assert nb.kernel.eval("neurons.groups['under']") == pick
    # and back: the panel's own menu moves the SubgroupPanel's pick
    other = under[0]
    page.locator(".dw-neurons select.dw-neuron-subgroup").select_option(str(other))
    _poll(lambda: nb.kernel.eval("subgroups.subgroup") == other, what="the subgroup panel follows the menu")
