"""Dashboard: every view of one Engine in task panels, built when first shown, linked as they appear."""

from __future__ import annotations

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
from .link import TRAITS, connect
from .neurons import NeuronPanel
from .projection import ProjectionView
from .regions import RegionView
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
)
"""(tab title, ((view key, maker(engine, version)), ...)) of every panel, in tab order."""


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
    NeuronPanel, ConceptWindow) and ``Regions & criticism`` (RegionView, CriticismView). A tab's
    views are built the first time it is shown (the Audit tab at once): building all thirteen
    would compute a t-SNE map, subgroups, neuron scores and a region classifier in one call; the
    RegionView starts training its classifier only when its tab is opened. Each view is linked
    as it appears (:func:`dashwidgets.widgets.link.connect`, browser-side jslinks that survive an
    exported page): ``selection``, ``focus``, ``version``, ``subgroup`` and ``neuron`` are
    shared, and the board's ``compare`` pair drives the mosaic. A view that cannot be built yet
    (no trained version; a mosaic before a second version) shows why in its place and is tried
    again when its tab is shown again.

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
        self.tabs = ipywidgets.Tab(children=[ipywidgets.VBox() for _ in PANELS])
        self.tabs.titles = tuple(titles)
        self.tabs.add_class("dw-dashboard-tabs")
        super().__init__(children=[self.banner, self.tabs], **kwargs)
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

    def _show_banner(self) -> None:
        if self._version is None and self._engine.active is None:
            self.banner.value = _message(
                "the engine has no trained version yet: train one in the Compare tab's Classifier Board "
                "or call engine.train(); the views that show a version appear once it exists", "error").value
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
        children = []
        for key, _ in PANELS[i][1]:
            if key in self.views:
                children.append(self.views[key])
            else:
                children.append(_message(f"{key}: {self.problems[key]}", "note"))
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
