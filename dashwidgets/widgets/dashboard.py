"""Dashboard: every view of one Engine in task panels, built when first shown, linked as they appear;
in JupyterLab / Notebook 7 (ipywidgets tabs, browser-side links) and in marimo (marimo tabs,
links in the kernel)."""

from __future__ import annotations

import functools
import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets
import traitlets

from ..engine.engine import Engine
from ..models.version import ModelVersion
from ..runtime.jobs import Job
from ._base import resolve_version
from .attribution import AttributionGrid
from .augment import AugmentedView, ClusterGallery
from .board import ClassifierBoard
from .compare import MosaicView, TraceView
from .concepts import ConceptWindow
from .criticism import CriticismView
from .gallery import ImageGallery
from .link import TRAITS, connect, connect_in_python
from .neurons import NeuronPanel
from .projection import ProjectionView
from .regions import RegionView
from .report import AuditReport
from .subgroups import SubgroupPanel

# How each view is made from (engine, version): version is the pinned id, or None to follow the
# engine's active version. Views with no single version (board, mosaic, trace, augmented view,
# region view) take their own defaults.
_Make = Callable[[Engine, Any], ipywidgets.DOMWidget]
PANELS: tuple[tuple[str, tuple[tuple[str, _Make], ...]], ...] = (
    ("Audit", (("projection", ProjectionView), ("gallery", ImageGallery), ("attribution", AttributionGrid))),
    ("Compare", (("board", lambda e, v: ClassifierBoard(e)), ("mosaic", lambda e, v: MosaicView(e)),
                 ("trace", lambda e, v: TraceView(e)))),
    ("Fix", (("clusters", ClusterGallery), ("augmented", lambda e, v: AugmentedView(e)))),
    ("Neurons", (("subgroups", SubgroupPanel), ("neurons", NeuronPanel), ("concepts", ConceptWindow))),
    ("Regions & criticism", (("regions", lambda e, v: RegionView(e)), ("criticism", CriticismView))),
    ("Report", (("report", AuditReport),)),
)
"""(tab title, ((view key, maker(engine, version)), ...)) of every panel, in tab order."""

SIDE_BY_SIDE: dict[str, tuple[str, str]] = {"Audit": ("projection", "gallery")}
"""Views a task looks at together, shown side by side (left, right); the left one is resizable
(drag its bottom-right corner) and the right one takes the rest of the row."""

_LEFT_WIDTH = "58%"
# Static rules (no data): the side-by-side row and the resizable view. The projection's canvas
# follows its container (a ResizeObserver), so dragging the corner re-lays the map out.
_CSS = """<style>
.dw-dashboard-panel { gap: 6px 10px; }
.dw-dashboard-resizable { resize: horizontal; overflow: auto; min-width: 240px;
  max-width: calc(100% - 250px); box-sizing: border-box; padding-right: 6px;
  border-right: 2px solid var(--jp-border-color2, #e0e0e0); }
</style>"""


def _message(text: str, kind: str) -> ipywidgets.HTML:
    """A line of text (escaped: it may hold version or class names) in the theme's colours."""
    colour = {"error": "var(--jp-error-color1, #d32f2f)", "note": "var(--jp-ui-font-color2, #616161)"}[kind]
    return ipywidgets.HTML(
        f'<div class="dw-dashboard-{kind}" style="color: {colour}; font-family: var(--jp-ui-font-family, '
        f'sans-serif); font-size: var(--jp-ui-font-size1, 13px); padding: 4px 0">{html.escape(text)}</div>'
    )


class Dashboard(ipywidgets.VBox):
    """Every dashwidgets view of one Engine in one layout: a tab per task.

    ``Audit`` (ProjectionView, ImageGallery, AttributionGrid), ``Compare`` (ClassifierBoard,
    MosaicView, TraceView), ``Fix`` (ClusterGallery, AugmentedView), ``Neurons`` (SubgroupPanel,
    NeuronPanel, ConceptWindow), ``Regions & criticism`` (RegionView, CriticismView) and
    ``Report`` (AuditReport: :meth:`Engine.report`'s ranked suspected biases). A tab's views are
    built the first time it is shown (the Audit tab at once): building all fourteen would compute
    a t-SNE map, subgroups, neuron scores, a region classifier and the report in one call; the
    RegionView starts training its classifier, and the report its probes, only when its tab is
    opened. Each view is linked
    as it appears (:func:`dashwidgets.widgets.link.connect`, browser-side jslinks that survive an
    exported page): ``selection``, ``focus``, ``version``, ``subgroup`` and ``neuron`` are
    shared, and the board's ``compare`` pair drives the mosaic. A view that cannot be built yet
    (no trained version; a mosaic before a second version) shows why in its place and is tried
    again when its tab is shown again.

    Views a task looks at together share a row (:data:`SIDE_BY_SIDE`: the projection beside the
    gallery); drag the left view's bottom-right corner to resize it, and the map re-lays itself
    out in its new width. Click a view (or Tab to it) for its keyboard shortcuts, listed by its
    ``⌨ ?`` button: in the projection ``l`` / ``b`` / ``p`` lasso, box, pan, ``r`` reset the
    view, ``Esc`` clear the selection; in the gallery and other paged views ``→`` / ``n`` and
    ``←`` / ``p`` next and previous page, ``Esc`` clear the selection. Keys typed in notebook
    cells never reach a view, and a key a view handles does not also reach the notebook.

    The same call works in JupyterLab, Notebook 7 and marimo: there, the cell shows
    :meth:`marimo`'s layout (marimo renders anywidgets but not ipywidgets containers, and has
    no jslink, so the views are linked in the kernel instead).

    Parameters
    ----------
    engine : Engine
    version : ModelVersion, str or Job, optional
        Version the single-version views show. Default: the engine's active version, followed
        when it changes (a ClassifierBoard switch, a new version).
    tab : str, optional
        Title of the tab shown first (default "Audit").
    """

    def __init__(self, engine: Engine, version: ModelVersion | str | Job | None = None, tab: str = "Audit",
                 **kwargs: Any):
        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a dashwidgets Engine, got {type(engine).__name__}")
        titles = [title for title, _ in PANELS]
        if tab not in titles:
            raise ValueError(f"unknown tab {tab!r}; choose one of {titles}")
        unknown = sorted(set(kwargs) - {"layout"})
        if unknown:  # a typo must not pass silently (as the views' View base does)
            raise TypeError(f"Dashboard got unexpected keyword argument(s) {unknown}; valid ones are "
                            "['engine', 'layout', 'tab', 'version']")
        self._engine = engine
        # a pinned version is checked now (an unknown id is a clear error); None follows the active one
        self._version = None if version is None else resolve_version(engine, version).id
        self.views: dict[str, ipywidgets.DOMWidget] = {}
        """The views built so far, by key ("projection", "gallery", …; see :data:`PANELS`)."""
        self.links: list = []
        """Every jslink the dashboard made between its views."""
        self._lock = threading.RLock()  # a version trained in a job thread may build a tab too
        self._shown: set[str] = set()
        self.problems: dict[str, str] = {}
        """Why a view could not be built, by key (shown in its place)."""
        self.banner = _message("", "error")
        self.banner.layout.display = "none"
        self.tabs = ipywidgets.Tab(children=[_panel_box() for _ in PANELS])
        self.tabs.titles = tuple(titles)
        self.tabs.add_class("dw-dashboard-tabs")
        self.python_links: list = []
        """Every ``traitlets.link`` the dashboard made (only once shown in marimo, which has no jslink)."""
        self._link_in_python = False
        self._marimo_items: dict[str, Any] = {}
        super().__init__(children=[ipywidgets.HTML(_CSS), self.banner, self.tabs], **kwargs)
        self.add_class("dw-dashboard")
        self._show_banner()
        engine.on("version", self._on_engine_version)
        engine.on("active", self._on_engine_version)  # the first version becomes active after its event
        self.tabs.observe(self._on_tab, "selected_index")
        index = titles.index(tab)
        if self.tabs.selected_index == index:
            self.build(tab)
        else:
            self.tabs.selected_index = index  # the observer builds it

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def version(self) -> str | None:
        """Id of the pinned version, or None when the views follow the engine's active one."""
        return self._version

    @property
    def built(self) -> list[str]:
        """Titles of the tabs shown so far (their views built, or the reasons they could not be)."""
        return [title for title, _ in PANELS if title in self._shown]

    def _no_version(self) -> bool:
        return self._version is None and self._engine.active is None

    def _show_banner(self) -> None:
        if self._no_version():
            self.banner.value = _message(_NO_VERSION, "error").value
            self.banner.layout.display = None
        else:
            self.banner.value, self.banner.layout.display = "", "none"

    def _on_engine_version(self, event: dict) -> None:
        """A new version: the banner goes, and the shown tab's views that were waiting for it
        (e.g. the mosaic's second version) are built."""
        self._show_banner()
        i = self.tabs.selected_index
        if i is not None and any(key in self.problems for key, _ in PANELS[i][1]):
            self.build(PANELS[i][0])

    def _on_tab(self, change: dict) -> None:
        if change["new"] is not None:
            self.build(PANELS[change["new"]][0])

    def build(self, tab: str) -> list[ipywidgets.DOMWidget]:
        """Build the views of tab ``tab`` not built yet (and retry those that failed), link them
        to the views already built, and show them; returns the tab's views."""
        titles = [title for title, _ in PANELS]
        if tab not in titles:
            raise ValueError(f"unknown tab {tab!r}; choose one of {titles}")
        with self._lock:
            return self._build(titles.index(tab))

    def _build(self, i: int) -> list[ipywidgets.DOMWidget]:
        self._shown.add(PANELS[i][0])
        new = []
        for key, make in PANELS[i][1]:
            if key in self.views:
                continue
            try:
                view = make(self._engine, self._version)
            except (ValueError, TypeError, traitlets.TraitError) as e:  # e.g. no version yet
                self.problems[key] = str(e)
                continue
            self.problems.pop(key, None)
            self.views[key] = view
            new.append(view)
        if new:
            linked = [v for v in self.views.values() if all(v is not n for n in new)]
            self._adopt(linked, new)
            self.links += connect(linked, new, TRAITS)
            if self._link_in_python:
                self.python_links += connect_in_python(linked, new, TRAITS)
        children = []
        pair = SIDE_BY_SIDE.get(PANELS[i][0], ())
        for key, _ in PANELS[i][1]:
            child = self.views[key] if key in self.views else _message(f"{key}: {self.problems[key]}", "note")
            _place(child, "left" if pair[:1] == (key,) else "right" if pair[1:] == (key,) else "row")
            children.append(child)
        self.tabs.children[i].children = children
        return [self.views[key] for key, _ in PANELS[i][1] if key in self.views]

    def _adopt(self, linked: list, new: list) -> None:
        """Give new views the shared state of the views already built (the hub of each link), as
        the browser's jslinks do when they start, so Python sees it before the page does."""
        for name in ("selection", "focus", "subgroup", "neuron"):
            hub = next((v for v in linked if v.has_trait(name)), None)
            if hub is None:
                continue
            for v in new:
                if v.has_trait(name) and getattr(v, name) != getattr(hub, name):
                    try:
                        setattr(v, name, getattr(hub, name))
                    except traitlets.TraitError:
                        pass  # the view shows why; the link will carry the next change

    # ------------------------------------------------------------------ marimo
    def marimo(self):
        """This dashboard as a marimo layout (marimo renders anywidgets, not ipywidgets containers).

        ``mo.ui.tabs`` with a tab per panel, each a ``mo.vstack`` of ``mo.ui.anywidget`` views (the
        :data:`SIDE_BY_SIDE` pair in a row whose left view is resizable); tabs not shown yet are
        ``mo.lazy`` and build their views when first opened, as in Jupyter. marimo has no jslink,
        so from now on the views are linked in the kernel (:func:`~dashwidgets.widgets.link.
        connect_in_python`, same rules): a lasso reaches Python, and the links set the other
        views' traits there. A marimo cell whose last expression is a Dashboard shows this
        layout by itself (``_display_``). The layout is a cell output: views that could not be
        built (no trained version yet) say why, and appear when the cell runs again.
        """
        try:
            import marimo as mo
        except ImportError as e:  # pragma: no cover - marimo is optional
            raise ImportError("Dashboard.marimo() needs marimo: pip install marimo") from e
        with self._lock:
            if not self._link_in_python:
                self._link_in_python = True
                views = list(self.views.values())
                self.python_links += connect_in_python([], views, TRAITS) if len(views) > 1 else []
        tabs = {}
        for i, (title, _) in enumerate(PANELS):
            build = functools.partial(self._marimo_panel, i)
            tabs[title] = build() if title in self._shown else mo.lazy(build)
        selected = self.tabs.selected_index or 0
        banner = [mo.callout(mo.Html(html.escape(_NO_VERSION)), kind="warn")] if self._no_version() else []
        return mo.vstack([*banner, mo.ui.tabs(tabs, value=PANELS[selected][0])])

    def _display_(self):
        """marimo shows a Dashboard through this (Jupyter ignores it and shows the widget)."""
        return self.marimo()

    def _marimo_panel(self, i: int):
        """Tab ``i``'s views (built now if they are not) as a marimo layout."""
        import marimo as mo

        self.build(PANELS[i][0])
        items = {}
        for key, _ in PANELS[i][1]:
            if key in self.views:
                if key not in self._marimo_items:  # one marimo element per view, however often shown
                    self._marimo_items[key] = mo.ui.anywidget(self.views[key])
                items[key] = self._marimo_items[key]
            else:
                items[key] = mo.Html(f'<div class="dw-dashboard-note">{html.escape(f"{key}: {self.problems[key]}")}</div>')
        pair = SIDE_BY_SIDE.get(PANELS[i][0])
        rows = []
        for key, _ in PANELS[i][1]:
            if pair and key == pair[1]:
                continue
            if pair and key == pair[0]:
                rows.append(mo.Html(
                    '<div class="dw-dashboard-row" style="display: flex; gap: 10px; align-items: flex-start">'
                    f'<div class="dw-dashboard-resizable" style="flex: 0 0 auto; width: {_LEFT_WIDTH}; resize: horizontal; '
                    'overflow: auto; min-width: 240px; max-width: calc(100% - 250px); box-sizing: border-box">'
                    f'{items[pair[0]]}</div><div style="flex: 1 1 0; min-width: 240px">{items[pair[1]]}</div></div>'))
            else:
                rows.append(items[key])
        return mo.vstack(rows)


_NO_VERSION = ("the engine has no trained version yet: train one in the Compare tab's Classifier Board "
               "or call engine.train(); the views that show a version appear once it exists")


def _panel_box() -> ipywidgets.Box:
    """A tab's container: its views in rows, wrapping (a side-by-side pair shares a row)."""
    box = ipywidgets.Box(layout=ipywidgets.Layout(display="flex", flex_flow="row wrap", align_items="flex-start", width="100%"))
    box.add_class("dw-dashboard-panel")
    return box


def _place(widget: ipywidgets.DOMWidget, where: str) -> None:
    """Size a view in its tab's row: "left" (resizable), "right" (the rest) or a "row" of its own."""
    if where == "left":
        widget.layout.flex, widget.layout.width = "0 0 auto", _LEFT_WIDTH
        widget.add_class("dw-dashboard-resizable")
    else:
        widget.layout.flex = "1 1 280px" if where == "right" else "1 1 100%"
        widget.layout.min_width = "0"
