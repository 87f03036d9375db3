"""dw.Dashboard in each host anywidget serves, driven as a user would (issue 16 §1).

JupyterLab (light and dark): the keyboard shortcuts, acted on only while a view has focus (the
projection's l / b / p tools and Esc, the gallery's → / n / ← / p pages), listed by the view's
``⌨ ?`` button, never reaching the notebook (a ``b`` in command mode would insert a cell) and never
taken from a text field; and the projection beside the gallery, resized by dragging its corner,
its canvas following. Notebook 7: the dashboard renders and a lasso reaches the gallery through
the browser's links, and the keys stay in the view there too. marimo (``marimo run`` on an app
the test writes): the dashboard renders as marimo tabs, a lasso reaches the gallery through the
links made in the kernel (the app records what the gallery's Python object received), Esc clears
it everywhere, and a tab opened later builds its views.
Screenshots: ``artifacts/screenshots/hosts-keys-<theme>.png``, ``hosts-resized-<theme>.png``,
``hosts-notebook7.png``, ``hosts-marimo.png``, ``hosts-marimo-fix.png``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest
from browser_helpers import _drag, _poll, _ready

SETUP = [
    "import dashwidgets as dw\n"
    "ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=300, n_val=60, n_test=100)\n"
    "eng = dw.Engine(ds)\n"
    "v = eng.train(epochs=1, progress=False)",
    "d = dw.Dashboard(eng)\nproj, gal = d.views['projection'], d.views['gallery']\nd",
]


def _lasso(page, rect, fx0=0.1, fx1=0.6):
    x, y, w, h = rect["x"], rect["y"], rect["width"], rect["height"]
    _drag(page, [(x + fx0 * w, y + 0.15 * h), (x + fx1 * w, y + 0.15 * h), (x + fx1 * w, y + 0.85 * h), (x + fx0 * w, y + 0.85 * h)])


def _cells(nb) -> int:
    return len(nb.state()["counts"])


def test_keys_act_in_the_focused_view_only_and_the_row_resizes(page, themed_lab, open_notebook, screenshot):
    theme = themed_lab.theme
    nb = open_notebook(page, themed_lab, f"hosts-keys-{theme}.ipynb", SETUP, timeout=240)
    canvas, rect, _ = _ready(nb)
    proj = page.locator(".dw-projection")
    tool = lambda name: proj.locator(f"button[data-tool='{name}']").get_attribute("aria-pressed")  # noqa: E731
    cells = _cells(nb)

    # the projection's keys, once it has focus (a click on its status line gives it)
    proj.locator(".dw-status").first.click()
    assert proj.evaluate("(n) => n === document.activeElement")
    page.keyboard.press("b")
    assert tool("box") == "true" and tool("lasso") == "false"
    page.keyboard.press("p")
    assert tool("pan") == "true"
    page.keyboard.press("l")
    assert tool("lasso") == "true"
    assert _cells(nb) == cells, "b in Jupyter's command mode inserts a cell: the view must keep the key"
    canvas.evaluate("(n) => n.scrollIntoView({block: 'center'})")
    _lasso(page, canvas.bounding_box())
    sel = _poll(lambda: nb.kernel.eval("proj.selection"), what="a lasso selection")
    _poll(lambda: nb.kernel.eval("gal.selection") == sel, what="the gallery's selection = the lasso's")
    page.keyboard.press("Escape")
    _poll(lambda: nb.kernel.eval("[proj.selection, gal.selection]") == [[], []], what="Esc cleared the linked selection")

    # the gallery's page keys (130 images: 4 pages of 40)
    nb.kernel.exec("proj.selection = list(range(130))")
    gallery = page.locator(".dw-gallery")
    _poll(lambda: gallery.get_attribute("data-total") == "130", what="130 images in the gallery")
    gallery.locator(".dw-count").click()
    for key, expected in (("ArrowRight", 1), ("n", 2), ("p", 1), ("ArrowLeft", 0), ("ArrowLeft", 0)):
        page.keyboard.press(key)
        _poll(lambda e=expected: nb.kernel.eval("gal.page") == e, what=f"page {expected} after {key}")
    # letters typed into the tag field are text, not shortcuts
    gallery.locator("input.dw-tag-name").click()
    page.keyboard.type("np")
    assert gallery.locator("input.dw-tag-name").input_value() == "np"
    page.wait_for_timeout(500)
    assert nb.kernel.eval("gal.page") == 0 and _cells(nb) == cells

    # the shortcuts are listed in the view
    proj.locator("button.dw-keys-btn").click()
    panel = proj.locator(".dw-keys-panel")
    assert panel.is_visible()
    text = panel.inner_text()
    for words in ("lasso tool", "box tool", "pan tool", "clear the selection", "Esc"):
        assert words in text
    assert "next page" in gallery.locator("button.dw-keys-btn").get_attribute("title")
    proj.scroll_into_view_if_needed()
    screenshot(page, f"hosts-keys-{theme}")
    proj.locator("button.dw-keys-btn").click()
    assert not panel.is_visible()

    # the projection beside the gallery: drag its bottom-right corner 260 px to the left
    left = page.locator(".dw-dashboard-resizable")
    left.evaluate("(n) => n.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(300)
    before = left.bounding_box()
    gal_before = gallery.bounding_box()["width"]
    box_before = nb.kernel.eval("proj.view_box")
    assert abs(gallery.bounding_box()["y"] - proj.bounding_box()["y"]) < 40, "the gallery sits beside the map"
    x, y = before["x"] + before["width"] - 3, before["y"] + before["height"] - 3
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 130, y, steps=5)
    page.mouse.move(x - 260, y, steps=5)
    page.mouse.up()
    after = left.bounding_box()
    assert before["width"] - after["width"] > 150, (before, after)
    overlay = page.locator(".dw-projection canvas.dw-overlay")
    _poll(lambda: abs(overlay.bounding_box()["width"] - canvas_room(page)) <= 3,
          what="the map's canvas following its narrower container")
    assert overlay.bounding_box()["width"] < rect["width"] - 150
    _poll(lambda: gallery.bounding_box()["width"] > gal_before + 150, what="the gallery taking the freed width")
    _poll(lambda: nb.kernel.eval("proj.view_box") != box_before, what="the map refitted to its new size")
    screenshot(page, f"hosts-resized-{theme}")


def canvas_room(page) -> float:
    """The width the map's plot area has (its canvases fill it)."""
    return page.locator(".dw-projection .dw-plot").first.evaluate("(n) => n.clientWidth")


def test_dashboard_in_notebook7(page, nb7, open_notebook, screenshot):
    nb = open_notebook(page, nb7, "hosts-nb7.ipynb", SETUP, timeout=240)
    root = page.locator(".dw-dashboard")
    root.wait_for(timeout=30_000)
    tabs = [t.strip() for t in root.locator(".dw-dashboard-tabs .lm-TabBar-tab").all_inner_texts()]
    assert tabs == ["Audit", "Compare", "Fix", "Neurons", "Regions & criticism", "Report"]
    canvas, rect, _ = _ready(nb)
    page.locator(".dw-gallery").wait_for(timeout=30_000)
    page.locator(".dw-attribution").wait_for(timeout=30_000)
    _lasso(page, rect)
    sel = _poll(lambda: nb.kernel.eval("proj.selection"), what="a lasso selection")
    # the browser's jslink carries it to the gallery, whose page then shows the images
    _poll(lambda: nb.kernel.eval("gal.selection") == sel, what="the gallery's selection = the lasso's")
    _poll(lambda: page.locator(".dw-gallery").get_attribute("data-total") == str(len(sel)), what="the gallery counting them")
    _poll(lambda: page.locator(".dw-gallery-item").count() > 0, what="gallery items")
    root.evaluate("(n) => n.scrollIntoView({block: 'start'})")
    screenshot(page, "hosts-notebook7")
    # Notebook 7's command mode does not see the keys the focused view handles
    cells = _cells(nb)
    page.locator(".dw-projection .dw-status").first.click()
    page.keyboard.press("b")
    assert page.locator(".dw-projection button[data-tool='box']").get_attribute("aria-pressed") == "true"
    page.keyboard.press("Escape")
    _poll(lambda: nb.kernel.eval("gal.selection") == [], what="Esc cleared the selection")
    assert _cells(nb) == cells


# ====================================================================== marimo
MARIMO_APP = '''
import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import json
    import pathlib

    import dashwidgets as dw

    ds = dw.datasets.load("patch-digits", bias=0.99, seed=0, n_train=300, n_val=60, n_test=100)
    eng = dw.Engine(ds)
    eng.train(epochs=1, progress=False)
    d = dw.Dashboard(eng)
    record = pathlib.Path({record!r})

    def _seen(change):  # what the gallery's Python object receives, for the test to read
        tmp = record.with_suffix(".tmp")  # written whole, then renamed: the test never reads half a file
        tmp.write_text(json.dumps(list(change["new"])))
        tmp.replace(record)

    d.views["gallery"].observe(_seen, "selection")
    d
    return


if __name__ == "__main__":
    app.run()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def marimo_app(tmp_path):
    """``start(source) -> url``: ``marimo run`` on an app file (headless, no token, no update
    check, its own config and state directories); stopped after the test."""
    pytest.importorskip("marimo")
    procs = []

    def start(source: str) -> str:
        app = tmp_path / "app.py"
        app.write_text(source)
        port = _free_port()
        env = dict(os.environ, MARIMO_SKIP_UPDATE_CHECK="1", XDG_CONFIG_HOME=str(tmp_path / "config"),
                   XDG_STATE_HOME=str(tmp_path / "state"), XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
        log = open(tmp_path / "marimo.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [sys.executable, "-m", "marimo", "run", str(app), "--headless", "--host", "127.0.0.1",
             "--port", str(port), "--no-token"],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        procs.append((proc, log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "marimo.log").read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return url
            except OSError:
                pass
            assert time.monotonic() < deadline, "marimo did not answer within 120 s"
            time.sleep(0.3)

    yield start
    for proc, log in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_dashboard_in_marimo(page, marimo_app, tmp_path, screenshot):
    record = tmp_path / "gallery-selection.json"
    url = marimo_app(textwrap.dedent(MARIMO_APP).replace("{record!r}", repr(str(record))))
    page.goto(url)
    proj = page.locator(".dw-projection[data-ready='1']")  # Playwright's locators reach into marimo's shadow roots
    proj.wait_for(timeout=240_000)
    tabs = page.get_by_role("tab")
    assert [t.strip() for t in tabs.all_inner_texts()][:5] == ["Audit", "Compare", "Fix", "Neurons", "Regions & criticism"]
    gallery = page.locator(".dw-gallery")
    gallery.wait_for(timeout=60_000)
    page.locator(".dw-attribution").wait_for(timeout=60_000)
    # styled inside the shadow root (the toolbar is a flex row, the theme tokens resolve)
    assert proj.locator(".dw-toolbar").evaluate("(n) => getComputedStyle(n).display") == "flex"
    assert proj.evaluate("(n) => getComputedStyle(n).getPropertyValue('--dw-fg').trim()") != ""

    rect = page.locator(".dw-projection canvas.dw-overlay").bounding_box()
    _lasso(page, rect)
    counts = _poll(lambda: (c := proj.get_attribute("data-selected-splits")) and c != "0,0,0" and c, what="a lasso selection")
    n = sum(int(c) for c in counts.split(","))
    # projection front end -> kernel -> traitlets link -> the gallery's Python object -> its front end
    _poll(lambda: record.exists() and len(json.loads(record.read_text())) == n, what=f"the gallery's Python object receiving {n} images")
    _poll(lambda: gallery.get_attribute("data-total") == str(n), what="the gallery's page counting them")
    # marimo's kernel answers the views: the gallery is not in its no-kernel mode (its offline
    # note hidden, tags and CSV export enabled), although marimo's models have no ipywidgets comm
    assert gallery.locator(".dw-offline").first.is_hidden()
    assert gallery.get_by_role("button", name="Export CSV").is_enabled()
    screenshot(page, "hosts-marimo")

    # keys work in marimo too: Esc in the focused map clears the selection everywhere
    proj.locator(".dw-status").first.click()
    page.keyboard.press("b")
    assert proj.locator("button[data-tool='box']").get_attribute("aria-pressed") == "true"
    page.keyboard.press("Escape")
    _poll(lambda: json.loads(record.read_text()) == [], what="the gallery's Python object emptied")
    _poll(lambda: gallery.get_attribute("data-total") == "0", what="the gallery emptied")

    # a tab opened later builds its views then (mo.lazy)
    assert page.locator(".dw-clusters").count() == 0
    tabs.filter(has_text="Fix").first.click()
    page.locator(".dw-clusters[data-clusters]").first.wait_for(timeout=120_000)
    toolbar = page.locator(".dw-clusters .dw-toolbar").first
    _poll(lambda: toolbar.evaluate("(n) => getComputedStyle(n).display") == "flex", what="the later view styled in its shadow root")
    page.wait_for_timeout(500)
    screenshot(page, "hosts-marimo-fix")
