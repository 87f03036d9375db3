"""One self-contained, offline HTML page from a notebook (``dashwidgets export``, issue 16 §2).

The page is nbconvert's JupyterLab page with a template of ours (``templates/dashwidgets-page``)
that inlines what the stock page fetches from CDNs: the widget manager (``static/embed.js``,
ipywidgets' html-manager with anywidget's front end, built by ``js/build.mjs``) and, when the
notebook shows plotly figures, plotly.js once. Each view's own module already travels in its
model's ``_esm`` state, and its data (coordinates, image atlases) in the model's binary buffers,
so the page shows what the kernel had computed with no kernel and no network.

Images dominate the page's size. The views embed them as compressed atlases within a budget they
read, when created, from the environment variable ``DASHWIDGETS_IMAGE_BUDGET_MB`` (megabytes;
``0`` embeds none); ``image_budget_mb`` sets it in the kernel that executes the notebook. A larger
budget lets more of a lasso's images show offline; a smaller one keeps the file small.
"""

from __future__ import annotations

import html
import json
import os
import re
import uuid
import warnings
from pathlib import Path

IMAGE_BUDGET_ENV = "DASHWIDGETS_IMAGE_BUDGET_MB"
TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "dashwidgets-page"
EMBED_JS = Path(__file__).resolve().parents[1] / "static" / "embed.js"

_STATE = "application/vnd.jupyter.widget-state+json"
_VIEW = "application/vnd.jupyter.widget-view+json"
_PLOTLY = "application/vnd.plotly.v1+json"
# a script, stylesheet or image the page would fetch from the network when opened
_REMOTE = re.compile(r"<(script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", re.I)


class ExportError(ValueError):
    """A notebook cannot become an offline page; the message names the notebook and the problem."""


def read_notebook(notebook: str | os.PathLike):
    """The notebook at ``notebook`` (nbformat v4), or ExportError naming what is wrong."""
    import nbformat

    path = Path(notebook)
    if not path.is_file():
        raise ExportError(f"notebook {str(path)!r} does not exist" if not path.exists() else f"{str(path)!r} is not a file")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # nbformat raises several types (JSON, validation, unicode)
        raise ExportError(f"{str(path)!r} is not a readable notebook: {e}") from e


def _cell_label(nb, index: int) -> str:
    cell = nb.cells[index]
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    return f"cell {index + 1} of {len(nb.cells)} ({first[:60]!r})"


def execute_notebook(notebook, *, timeout: float = 600, image_budget_mb: float | None = None, kernel_name: str | None = None):
    """Run every cell of ``notebook`` (a path) headless in a fresh kernel, in the notebook's folder,
    and return the executed notebook with its widget state stored in its metadata (as JupyterLab's
    "save widget state" does).

    ``timeout`` (seconds) bounds each cell. ``image_budget_mb`` is set as
    ``DASHWIDGETS_IMAGE_BUDGET_MB`` in the kernel's environment (None: the views' default).
    Raises ExportError naming the cell that failed or ran out of time.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if not timeout > 0:
        raise ExportError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if image_budget_mb is not None and not float(image_budget_mb) >= 0:
        raise ExportError(f"image budget must be >= 0 MB (0 embeds no images), got {image_budget_mb!r}")
    path = Path(notebook).resolve()
    nb = read_notebook(path)
    env = dict(os.environ)
    if image_budget_mb is not None:
        env[IMAGE_BUDGET_ENV] = f"{float(image_budget_mb):g}"
    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=name,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},  # the kernel's cwd
    )
    failed: dict[str, int] = {}

    def on_cell_error(cell, cell_index, execute_reply):
        failed.setdefault("index", cell_index)

    client.on_cell_error = on_cell_error
    running: dict[str, int] = {}
    client.on_cell_start = lambda cell, cell_index: running.update(index=cell_index)
    try:
        client.execute(env=env)
    except CellExecutionError as e:
        where = _cell_label(nb, failed.get("index", running.get("index", 0)))
        raise ExportError(f"{path.name}: {where} raised {e.ename}: {e.evalue}") from e
    except CellTimeoutError as e:
        where = _cell_label(nb, running.get("index", 0))
        raise ExportError(f"{path.name}: {where} ran longer than the timeout of {timeout:g} s") from e
    except DeadKernelError as e:
        where = _cell_label(nb, running.get("index", 0))
        raise ExportError(f"{path.name}: the kernel died while running {where}") from e
    return nb


def _check_widget_state(nb, name: str) -> None:
    """A notebook whose outputs show widgets must carry their state, else the page shows nothing."""
    views = [
        out.data[_VIEW].get("model_id")
        for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if _VIEW in out.get("data", {})
    ]
    if not views:
        return
    state = nb.metadata.get("widgets", {}).get(_STATE, {}).get("state")
    if not state:
        raise ExportError(
            f"{name} shows {len(views)} widget(s) but saved no widget state: export with --execute "
            "(execute=True), or save the notebook from JupyterLab with Settings > Save Widget State "
            "Automatically on"
        )
    missing = [m for m in views if m not in state]
    if missing:
        raise ExportError(
            f"{name}: {len(missing)} of {len(views)} widget output(s) refer to models missing from the "
            "saved widget state (outputs of an older kernel, or widgets closed before the notebook "
            "ended): export with --execute (execute=True), and do not close widgets that are shown"
        )


def _script_json(value) -> str:
    # JSON inside <script>: "</" would end the element early
    return json.dumps(value).replace("</", "<\\/")


def _plotly_as_html(nb) -> bool:
    """Give each plotly figure output its own offline HTML (a div and Plotly.newPlot) in place of
    whatever its renderer wrote (require.js or CDN loaders); True if there was any."""
    found = False
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            fig = out.get("data", {}).get(_PLOTLY)
            if fig is None:
                continue
            found = True
            div = f"dw-plotly-{uuid.uuid4().hex[:12]}"
            data, layout, config = fig.get("data", []), fig.get("layout", {}), fig.get("config", {"responsive": True})
            out.data["text/html"] = (
                f'<div id="{div}" class="plotly-graph-div"></div>\n'
                f'<script type="text/javascript">Plotly.newPlot("{div}", {_script_json(data)}, '
                f"{_script_json(layout)}, {_script_json(config)});</script>"
            )
            del out.data[_PLOTLY]
    return found


def remote_references(page: str) -> list[str]:
    """URLs the page would fetch when opened (script/link/img/iframe sources), in order."""
    return [html.unescape(m.group(2)) for m in _REMOTE.finditer(page)]


def _embed_js() -> str:
    if not EMBED_JS.is_file():
        raise ExportError(f"{EMBED_JS} is missing: build the front end (cd js && npm run build)")
    return EMBED_JS.read_text(encoding="utf-8").replace("</script", "<\\/script")


def page_html(nb, *, theme: str = "light") -> str:
    """The offline page of an (executed or saved) notebook node, as a string."""
    from nbconvert import HTMLExporter

    if theme not in ("light", "dark"):
        raise ExportError(f"theme must be 'light' or 'dark', got {theme!r}")
    has_plotly = _plotly_as_html(nb)
    plotly_js = ""
    if has_plotly:
        from plotly.offline import get_plotlyjs

        plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    exporter = HTMLExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name=TEMPLATE,
        theme=theme,
        embed_images=True,
    )
    resources = {"dashwidgets": {"embed_js": _embed_js() if "widgets" in nb.metadata else "", "plotly_js": plotly_js}}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    return page


def export_html(
    notebook: str | os.PathLike,
    out: str | os.PathLike,
    *,
    execute: bool = False,
    image_budget_mb: float | None = None,
    timeout: float = 600,
    theme: str = "light",
) -> Path:
    """Write ``notebook`` as one self-contained HTML page at ``out`` and return its path.

    With ``execute=True`` the notebook first runs headless (see :func:`execute_notebook`;
    ``image_budget_mb`` and ``timeout`` apply to that run); otherwise its saved outputs and saved
    widget state are used, and a notebook showing widgets without saved state is refused. Every view
    renders in the page from what was computed, with no kernel and no network: lasso, zoom, paging
    and linked selection run in the browser. The file is not touched when export fails.
    """
    src = Path(notebook)
    if execute:
        nb = execute_notebook(src, timeout=timeout, image_budget_mb=image_budget_mb)
    else:
        if image_budget_mb is not None:
            raise ExportError("image_budget_mb applies only when executing (execute=True): a saved notebook's images are already in its state")
        nb = read_notebook(src)
    _check_widget_state(nb, src.name)
    page = page_html(nb, theme=theme)
    remote = remote_references(page)
    if remote:
        warnings.warn(
            f"the page of {src.name} refers to {len(remote)} remote file(s) from its outputs, which "
            f"will not load offline: {remote[:3]}",
            stacklevel=2,
        )
    dest = Path(out)
    if dest.is_dir():
        raise ExportError(f"output {str(dest)!r} is a folder; give a file name such as page.html")
    if not dest.parent.is_dir():
        raise ExportError(f"the folder of the output {str(dest)!r} does not exist")
    dest.write_text(page, encoding="utf-8")
    return dest
