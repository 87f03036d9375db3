"""Helpers the browser tests share: polling, the projection's screen geometry, mouse drags."""

from __future__ import annotations

import time


def _poll(fn, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value {last!r}")


def _ready(nb):
    page = nb.page
    page.locator(".dw-projection[data-ready='1']").wait_for(timeout=30_000)
    box = _poll(lambda: nb.kernel.eval("proj.view_box"), what="view_box synced from the browser")
    canvas = page.locator(".dw-projection canvas.dw-overlay")
    return canvas, canvas.bounding_box(), box


def _screen(xy, rect, view_box):
    """Screen positions computed independently from the data coordinates and the view box."""
    x0, x1, y0, y1 = view_box
    return [
        (rect["x"] + (x - x0) / (x1 - x0) * rect["width"], rect["y"] + (y1 - y) / (y1 - y0) * rect["height"])
        for x, y in xy
    ]


def _inside(px, py, poly):
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > py) != (yj > py) and px < (xj - xi) * (py - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _edge_distance(px, py, poly):
    best = float("inf")
    for i in range(len(poly)):
        (ax, ay), (bx, by) = poly[i], poly[(i + 1) % len(poly)]
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, ((ax + t * dx - px) ** 2 + (ay + t * dy - py) ** 2) ** 0.5)
    return best


def _drag(page, points, modifier=None):
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.move(*points[0])
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.move(*points[0], steps=4)
    page.mouse.up()
    if modifier:
        page.keyboard.up(modifier)
