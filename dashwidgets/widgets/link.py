"""Link views so they share a selection (and a version) in the browser."""

from __future__ import annotations

import ipywidgets


def link(*views, traits: tuple[str, ...] = ("selection", "focus", "version", "subgroup", "neuron")) -> list:
    """Keep ``traits`` equal across ``views`` with ``ipywidgets.jslink``.

    ``selection`` (the selected images) and ``focus`` (the image clicked last) are what every
    linked view shows, whichever view set them; ``subgroup`` (the picked under-performing
    subgroup) and ``neuron`` (the clicked neuron) tie the VisCUIT panels together. The links live in the browser, so they keep
    working in an exported notebook page. Each trait links the first view that has it to every
    other one that has it (views that show several versions at once keep their own). A
    ClassifierBoard's ``compare`` pair drives MosaicViews' ``versions``. Returns the link
    objects (call ``.unlink()`` on them to undo).
    """
    if len(views) < 2:
        raise ValueError(f"link needs at least two views, got {len(views)}")
    for v in views:
        if not isinstance(v, ipywidgets.DOMWidget):
            raise TypeError(f"can only link widgets, got {type(v).__name__}")
    links = []
    for name in traits:
        having = [
            v for v in views if v.has_trait(name) and (name != "version" or getattr(v, "_link_version", True))
        ]
        for other in having[1:]:  # a star around the first view that has the trait
            links.append(ipywidgets.jslink((having[0], name), (other, name)))
    # a board's two picked versions drive every mosaic
    boards = [v for v in views if v.has_trait("compare")]
    mosaics = [v for v in views if type(v).__name__ == "MosaicView"]
    for board in boards[:1]:
        for m in mosaics:
            links.append(ipywidgets.jslink((board, "compare"), (m, "versions")))
    return links
