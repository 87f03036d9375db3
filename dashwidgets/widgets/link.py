"""Link views so they share a selection (and a version): in the browser (jslink), or in Python
where the host has no jslink (marimo)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import ipywidgets
import traitlets

from .board import ClassifierBoard
from .compare import MosaicView

TRAITS = ("selection", "focus", "version", "subgroup", "neuron")
"""Traits every linked view shares when it has them."""

DRIVES = ((ClassifierBoard, "compare", MosaicView, "versions"),)
"""(source class, its trait, target class, its trait): cross-trait links, the first source view
driving every target view (a ClassifierBoard's two picked versions drive every MosaicView)."""


def _shares(view, name: str) -> bool:
    # views that show several versions at once keep their own ``version``
    return view.has_trait(name) and (name != "version" or getattr(view, "_link_version", True))


def _pairs(linked: Sequence, new: Sequence, traits: tuple[str, ...]) -> Iterator[tuple[tuple, tuple]]:
    """The ((view, trait), (view, trait)) pairs that join the views in ``new`` to the ``linked``
    ones (and to each other): :func:`connect`'s rules, for either kind of link."""
    for v in (*linked, *new):
        if not isinstance(v, ipywidgets.DOMWidget):
            raise TypeError(f"can only link widgets, got {type(v).__name__}")
    views = [*linked, *new]
    is_new = {id(v) for v in new}
    for name in traits:
        having = [v for v in views if _shares(v, name)]
        for other in having[1:]:  # a star around the first view that has the trait
            if id(other) in is_new:
                yield (having[0], name), (other, name)
    for src_cls, src_name, dst_cls, dst_name in DRIVES:
        sources = [v for v in views if isinstance(v, src_cls)]
        for src in sources[:1]:
            for dst in (v for v in views if isinstance(v, dst_cls)):
                if id(src) in is_new or id(dst) in is_new:
                    yield (src, src_name), (dst, dst_name)


def connect(linked: Sequence, new: Sequence, traits: tuple[str, ...] = TRAITS) -> list:
    """The jslinks that join the views in ``new`` to the already ``linked`` ones (and to each
    other), by :func:`link`'s rules; links among ``linked`` views are not made again. This is
    how :class:`~dashwidgets.widgets.dashboard.Dashboard` links a panel's views as they appear,
    and :func:`link` is ``connect([], views)``.

    Each trait links the first view that has it (the hub) to every other one that has it; a
    :data:`DRIVES` pair links the first source view to every target view.
    """
    return [ipywidgets.jslink(a, b) for a, b in _pairs(linked, new, traits)]


def connect_in_python(linked: Sequence, new: Sequence, traits: tuple[str, ...] = TRAITS) -> list:
    """The same links as :func:`connect`, made in the kernel with ``traitlets.link``: for hosts
    that render anywidgets but have no jslink (marimo). A change made in one view's front end
    reaches Python, and the link sets the other views' traits there, which the host sends on to
    their front ends. Returns the ``traitlets.link`` objects (``.unlink()`` undoes one)."""
    return [traitlets.link(a, b) for a, b in _pairs(linked, new, traits)]


def link(*views, traits: tuple[str, ...] = TRAITS) -> list:
    """Keep ``traits`` equal across ``views`` with ``ipywidgets.jslink``.

    ``selection`` (the selected images) and ``focus`` (the image clicked last) are what every
    linked view shows, whichever view set them; ``subgroup`` (the picked under-performing
    subgroup) and ``neuron`` (the clicked neuron) tie the VisCUIT panels together. The links live in the browser, so they keep
    working in an exported notebook page. Each trait links the first view that has it to every
    other one that has it (views that show several versions at once keep their own). Every view
    holds its ``selection`` in the browser in the same binary form (``_codec.encode_selection``:
    one buffer of uint32 indices or a bitmask), so a jslink copies that object as it is, with no
    JSON list at any step, and each view's kernel side decodes it to the same sorted list. A
    ClassifierBoard's ``compare`` pair drives MosaicViews' ``versions`` (:data:`DRIVES`).
    Returns the link objects (call ``.unlink()`` on them to undo). ``dw.Dashboard`` makes these
    links itself.
    """
    if len(views) < 2:
        raise ValueError(f"link needs at least two views, got {len(views)}")
    return connect([], views, traits)
