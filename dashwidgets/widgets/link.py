"""Link views so they share a selection (and a version) in the browser."""

from __future__ import annotations

import ipywidgets


def link(*views, traits: tuple[str, ...] = ("selection", "version")) -> list:
    """Keep ``traits`` equal across ``views`` with ``ipywidgets.jslink``.

    The links live in the browser, so they keep working in an exported notebook page. Each view
    is linked to the next one; a trait is linked only where both views have it. Returns the link
    objects (call ``.unlink()`` on them to undo).
    """
    if len(views) < 2:
        raise ValueError(f"link needs at least two views, got {len(views)}")
    for v in views:
        if not isinstance(v, ipywidgets.DOMWidget):
            raise TypeError(f"can only link widgets, got {type(v).__name__}")
    links = []
    for a, b in zip(views, views[1:], strict=False):
        for name in traits:
            if a.has_trait(name) and b.has_trait(name):
                links.append(ipywidgets.jslink((a, name), (b, name)))
    return links
