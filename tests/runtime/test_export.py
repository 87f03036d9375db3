"""``dashwidgets export`` / ``dw.export_html``: a notebook becomes one offline HTML page.

Fast tests build tiny notebooks by hand; two execute one in a real kernel (a few seconds each).
The browser tests of the exported quickstart are in tests/browser/test_browser_export.py."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import dashwidgets as dw
from dashwidgets.cli import main
from dashwidgets.runtime.export import IMAGE_BUDGET_ENV, ExportError, export_html, remote_references

STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
# any tag that would make the browser fetch something from the network
NETWORK_TAG = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)

COUNTER = '''import os, anywidget, traitlets
class Counter(anywidget.AnyWidget):
    _esm = "export default { render({ model, el }) { el.textContent = 'count ' + model.get('value'); } }"
    value = traitlets.Int(7).tag(sync=True)
    budget = traitlets.Unicode(os.environ.get("DASHWIDGETS_IMAGE_BUDGET_MB", "unset")).tag(sync=True)
    cwd = traitlets.Unicode(os.getcwd()).tag(sync=True)
Counter()'''


def _saved_notebook(class_name="seven"):
    """A notebook as JupyterLab saves it with "Save Widget State Automatically": one anywidget
    output and the widget state in the metadata (no kernel needed)."""
    model_id = "a1b2c3"
    state = {
        "version_major": 2,
        "version_minor": 0,
        "state": {
            model_id: {
                "model_name": "AnyModel",
                "model_module": "anywidget",
                "model_module_version": "~0.11.*",
                "state": {
                    "_esm": "export default { render({ model, el }) { el.textContent = model.get('label'); } }",
                    "label": class_name,
                    "_view_name": "AnyView",
                    "_view_module": "anywidget",
                    "_view_module_version": "~0.11.*",
                },
            }
        },
    }
    out = new_output("display_data", data={VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id}, "text/plain": "Counter()"})
    nb = new_notebook(
        cells=[new_markdown_cell("# saved $x^2$"), new_code_cell("Counter()", outputs=[out])],
        metadata={**KERNEL, "widgets": {STATE: state}},
    )
    return nb, model_id


def _write(nb, path):
    nbformat.write(nb, path)
    return path


def _state_in_page(page: str) -> dict:
    m = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    assert m, "the page carries no widget state"
    return json.loads(m.group(1))


def test_a_saved_notebook_becomes_a_page_with_its_state_and_no_network(tmp_path):
    nb, model_id = _saved_notebook()
    out = export_html(_write(nb, tmp_path / "saved.ipynb"), tmp_path / "saved.html")
    page = out.read_text()
    state = _state_in_page(page)
    assert state["state"][model_id]["state"]["label"] == "seven"  # the view's data and module travel
    assert "export default { render" in state["state"][model_id]["state"]["_esm"]
    assert "__dashwidgets_embed" in page  # our widget manager (static/embed.js) is inlined
    assert page.count("<script") >= 3 and f'"model_id": "{model_id}"' in page
    # nothing fetched from a CDN: no require.js, MathJax, mermaid or html-manager loader
    assert not NETWORK_TAG.search(page), NETWORK_TAG.search(page)
    assert remote_references(page) == []
    for cdn in ("unpkg.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net", "require.min.js"):
        assert cdn not in page, cdn


def test_remote_references_sees_what_a_page_would_fetch():
    page = '<script src="https://cdn.x/a.js"></script><link rel="stylesheet" href="//fonts.y/b.css"><img src="data:image/png;base64,AA"><a href="https://docs">docs</a>'
    assert remote_references(page) == ["https://cdn.x/a.js", "//fonts.y/b.css"]


def test_data_strings_cannot_close_the_state_script(tmp_path):
    # a class name is data: it must not end the <script> that carries the state
    nb, model_id = _saved_notebook(class_name="</script><script>window.pwned=1</script>")
    page = export_html(_write(nb, tmp_path / "x.ipynb"), tmp_path / "x.html").read_text()
    assert "</script><script>window.pwned=1" not in page  # the closing tag is escaped (<\\/script>)
    assert _state_in_page(page)["state"][model_id]["state"]["label"] == "</script><script>window.pwned=1</script>"


def test_plotly_figures_render_from_one_inlined_plotly_js(tmp_path):
    fig = {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {"title": {"text": "</script>t"}}}
    outs = [new_output("display_data", data={"application/vnd.plotly.v1+json": fig, "text/html": '<script src="https://cdn.plot.ly/plotly.min.js"></script>'})]
    nb = new_notebook(cells=[new_code_cell("fig", outputs=outs), new_code_cell("fig", outputs=[new_output("display_data", data={"application/vnd.plotly.v1+json": fig})])], metadata=KERNEL)
    page = export_html(_write(nb, tmp_path / "p.ipynb"), tmp_path / "p.html").read_text()
    assert page.count("Plotly.newPlot(") >= 2
    from plotly.offline import get_plotlyjs

    marker = get_plotlyjs()[:200]
    assert page.count(marker) == 1  # plotly.js once, not once per figure
    assert not NETWORK_TAG.search(page) and "cdn.plot.ly/plotly" not in page
    assert "</script>t" not in page  # layout text escaped inside the script


def test_a_notebook_that_shows_widgets_without_saved_state_is_refused(tmp_path):
    nb, _ = _saved_notebook()
    del nb.metadata["widgets"]
    dest = tmp_path / "none.html"
    with pytest.raises(ExportError, match=r"saved no widget state.*--execute"):
        export_html(_write(nb, tmp_path / "nostate.ipynb"), dest)
    assert not dest.exists()
    # a view whose model is missing from the state (outputs of an older kernel) is refused too
    nb, _ = _saved_notebook()
    nb.metadata["widgets"][STATE]["state"] = {"other": nb.metadata["widgets"][STATE]["state"]["a1b2c3"]}
    with pytest.raises(ExportError, match="missing from the saved widget state"):
        export_html(_write(nb, tmp_path / "stale.ipynb"), dest)


def test_bad_paths_and_arguments_are_named(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_html(tmp_path / "nope.ipynb", tmp_path / "out.html")
    (tmp_path / "junk.ipynb").write_text("{not json")
    with pytest.raises(ExportError, match="not a readable notebook"):
        export_html(tmp_path / "junk.ipynb", tmp_path / "out.html")
    nb, _ = _saved_notebook()
    src = _write(nb, tmp_path / "ok.ipynb")
    with pytest.raises(ExportError, match="folder of the output"):
        export_html(src, tmp_path / "no" / "such" / "dir" / "out.html")
    with pytest.raises(ExportError, match="is a folder"):
        export_html(src, tmp_path)
    with pytest.raises(ExportError, match="only when executing"):
        export_html(src, tmp_path / "out.html", image_budget_mb=2)
    with pytest.raises(ExportError, match="image budget must be >= 0"):
        export_html(src, tmp_path / "out.html", execute=True, image_budget_mb=-1)
    with pytest.raises(ExportError, match="theme"):
        export_html(src, tmp_path / "out.html", theme="sepia")


def test_execute_stores_the_widget_state_in_the_notebooks_folder_with_the_image_budget(tmp_path):
    folder = tmp_path / "nbdir"
    folder.mkdir()
    nb = new_notebook(cells=[new_code_cell(COUNTER)], metadata=KERNEL)
    out = dw.export_html(_write(nb, folder / "tiny.ipynb"), tmp_path / "tiny.html", execute=True, image_budget_mb=1.5, timeout=120)
    page = out.read_text()
    models = _state_in_page(page)["state"]
    counter = [m["state"] for m in models.values() if m["model_module"] == "anywidget"]
    assert len(counter) == 1
    assert counter[0]["value"] == 7
    # --image-budget reached the kernel's environment, under the name the views read
    assert IMAGE_BUDGET_ENV == "DASHWIDGETS_IMAGE_BUDGET_MB" and counter[0]["budget"] == "1.5"
    assert counter[0]["cwd"] == str(folder.resolve())  # the notebook's own folder
    assert VIEW in page and not NETWORK_TAG.search(page)


def test_a_failing_cell_is_named_and_nothing_is_written(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_markdown_cell("text"), new_code_cell("y = x / 0")], metadata=KERNEL)
    dest = tmp_path / "fail.html"
    with pytest.raises(ExportError, match=r"fail\.ipynb: cell 3 of 3 \('y = x / 0'\) raised ZeroDivisionError"):
        export_html(_write(nb, tmp_path / "fail.ipynb"), dest, execute=True, timeout=120)
    assert not dest.exists()


def test_cli_export_prints_size_and_path_and_reports_errors(tmp_path, capsys):
    nb, _ = _saved_notebook()
    src = _write(nb, tmp_path / "cli.ipynb")
    dest = tmp_path / "cli.html"
    assert main(["export", str(src), "--html", str(dest)]) == 0
    out = capsys.readouterr().out
    assert str(dest) in out and re.search(r"\(\d+\.\d MB\)", out)
    assert dest.stat().st_size > 500_000  # the widget manager is inlined
    assert main(["export", str(tmp_path / "missing.ipynb"), "--html", str(dest)]) == 2
    assert "missing.ipynb' does not exist" in capsys.readouterr().err
