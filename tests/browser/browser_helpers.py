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


# The WCAG contrast of every visible text node under a root, against the background it is drawn
# on (the first opaque ancestor background, translucent layers blended in), and of canvases' own
# background. Returns {"min": ratio, "worst": [[ratio, text, color, background], ...], "n": count}.
_CONTRAST_JS = """
(root) => {
  const parse = (c) => {
    // rgb()/rgba() in 0-255; color-mix() results compute to color(srgb r g b / a) in 0-1
    const s = /color\\(srgb ([^)]+)\\)/.exec(c);
    const m = s || /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    const k = s ? 255 : 1;
    return [p[0] * k, p[1] * k, p[2] * k, p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map((k) => top[k] * top[3] + under[k] * (1 - top[3])).concat([1]);
  const background = (node) => {
    const layers = [];
    for (let n = node; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const text = t.textContent.trim();
    const n = t.parentElement;
    if (!text || !n) continue;
    const r = n.getBoundingClientRect();
    const style = getComputedStyle(n);
    if (r.width === 0 || r.height === 0 || style.visibility === 'hidden' || n.closest('[style*="display: none"]')) continue;
    if (n.closest('svg')) continue;  // SVG text is painted with fill, checked below
    const bg = background(n);
    const fg = over(parse(style.color) || [0, 0, 0, 1], bg);
    out.push([ratio(fg, bg), text.slice(0, 40), style.color, `rgb(${bg.slice(0, 3).map(Math.round)})`]);
  }
  for (const n of root.querySelectorAll('svg text')) {
    const text = n.textContent.trim();
    if (!text) continue;
    const bg = background(n.closest('svg'));
    const fill = parse(getComputedStyle(n).fill) || [0, 0, 0, 1];
    out.push([ratio(over(fill, bg), bg), text.slice(0, 40), getComputedStyle(n).fill, `rgb(${bg.slice(0, 3).map(Math.round)})`]);
  }
  out.sort((a, b) => a[0] - b[0]);
  return { min: out.length ? out[0][0] : null, worst: out.slice(0, 5), n: out.length };
}
"""


def contrast(page, selector):
    """WCAG contrast of the text in the first element matching ``selector`` (see _CONTRAST_JS)."""
    return page.locator(selector).first.evaluate(_CONTRAST_JS)


def canvas_background(page, selector):
    """[r, g, b] a canvas shows at its top-left corner (views leave a margin there): its own pixel
    blended over the first opaque background behind it (a transparent canvas shows the page)."""
    return page.locator(selector).first.evaluate(
        """(c) => {
          const d = c.getContext('2d').getImageData(1, 1, 1, 1).data;
          let bg = [255, 255, 255];
          for (let n = c; n; n = n.parentElement) {
            const m = /rgba?\\(([^)]+)\\)/.exec(getComputedStyle(n).backgroundColor);
            const p = m ? m[1].split(/[ ,/]+/).filter(Boolean).map(Number) : null;
            if (p && (p.length < 4 || p[3] >= 1)) { bg = p.slice(0, 3); break; }
          }
          const a = d[3] / 255;
          return [0, 1, 2].map((k) => Math.round(d[k] * a + bg[k] * (1 - a)));
        }"""
    )


def luminance(rgb):
    """Relative luminance (0 black .. 1 white) of an [r, g, b] colour in 0..255."""
    def f(v):
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2])
