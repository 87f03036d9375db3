"""The browser harness itself, on a plain ipywidgets slider: JupyterLab and Notebook 7 render it,
the browser drives the kernel and the kernel drives the browser."""

from __future__ import annotations

SLIDER = ["import ipywidgets as w; s = w.IntSlider(value=3, min=0, max=10); s"]


def _readout(page):
    return page.locator(".widget-slider .widget-readout").first


def test_lab_slider_round_trip(page, lab, open_notebook, screenshot, console_errors):
    nb = open_notebook(page, lab, "harness_slider.ipynb", SLIDER)
    slider = nb.output(0).locator(".jupyter-widgets.widget-slider")
    slider.wait_for(state="visible", timeout=30_000)
    assert _readout(page).inner_text() == "3"
    assert page.evaluate("document.createElement('canvas').getContext('webgl2') !== null")

    # browser -> kernel: keyboard on the noUiSlider handle (ArrowRight = one step)
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.widget-slider .widget-readout').textContent.trim() === '5'",
        timeout=10_000,
    )
    deadline = page.evaluate("Date.now()") + 10_000
    while nb.kernel.eval("s.value") != 5:
        assert page.evaluate("Date.now()") < deadline, nb.kernel.eval("s.value")
        page.wait_for_timeout(100)

    # browser -> kernel: a mouse click on the track's right end
    box = slider.locator(".noUi-base").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "() => document.querySelector('.widget-slider .widget-readout').textContent.trim() === '10'",
        timeout=10_000,
    )
    deadline = page.evaluate("Date.now()") + 10_000
    while nb.kernel.eval("s.value") != 10:
        assert page.evaluate("Date.now()") < deadline, nb.kernel.eval("s.value")
        page.wait_for_timeout(100)

    # kernel -> browser
    nb.kernel.exec("s.value = 7")
    page.wait_for_function(
        "() => document.querySelector('.widget-slider .widget-readout').textContent.trim() === '7'",
        timeout=10_000,
    )
    assert nb.kernel.eval("[s.value, s.max]") == [7, 10]
    assert nb.kernel.exec("print(s.value * 2)") == "14\n"
    screenshot(page, "harness_lab_slider")
    assert page.dialogs == [] and console_errors(page, lab) == []


def test_notebook7_renders_the_slider(page, nb7, open_notebook, screenshot, console_errors):
    nb = open_notebook(page, nb7, "harness_slider_nb7.ipynb", SLIDER)
    slider = nb.output(0).locator(".jupyter-widgets.widget-slider")
    slider.wait_for(state="visible", timeout=30_000)
    assert _readout(page).inner_text() == "3"
    nb.kernel.exec("s.value = 9")
    page.wait_for_function(
        "() => document.querySelector('.widget-slider .widget-readout').textContent.trim() === '9'",
        timeout=10_000,
    )
    screenshot(page, "harness_nb7_slider")
    assert page.dialogs == [] and console_errors(page, nb7) == []
