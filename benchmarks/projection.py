"""ProjectionView against jupyter-scatter in headless Chromium: first render, frame time while
zooming and lasso-to-Python latency, at 10^5 and 10^6 points, with the same points in the same browser.

    pip install -e ".[bench]"          # jupyter-scatter, the peer (optional: without it only ours runs)
    python benchmarks/projection.py [--sizes 100000 1000000] [--json OUT] [--bundle OLD.js]

It starts a real JupyterLab server and Debian's Chromium (software WebGL through SwiftShader, as
in the browser tests), opens a notebook that builds the points, shows them in our ProjectionView,
measures, clears the output and shows the same points in jupyter-scatter (regl-scatterplot, the
widget people pick for millions of points) at the same size, and measures the same way:

first render
    From the display cell starting (kernel clock) to the first moment the points canvas, read back
    from the page and downsampled to 64x64, shows points in at least 2 % of its cells (page clock,
    the same machine). Ours also reports ``data-points-ready``, the view's own marker of its first
    frame at the fitted size with points (``data-ready`` fires on a 50 px draw before layout and
    was an optimistic first render).
frame time while zooming
    One wheel step per animation frame, half of them in and half out (120 frames up to 10^5
    points, 30 larger steps above, to the same depth); the frame time is the interval between
    consecutive frames (16.7 ms when the view keeps up at 60 Hz), median.
lasso-to-Python latency
    From just before the mouse button goes up to the kernel's selection observer firing (both
    ``time.time()``), median of 5 lassos of growing size around the centre, and once for a lasso
    around the whole map (every point selected: the worst case). Their point counts are printed:
    the two views fit the map differently, so the same screen lasso holds different counts.

Ratios are jupyter-scatter's time / ours: >= 1.0x means we are as fast or faster (goal: >= 1.0x
while we draw DASH's richer glyphs: circle / cross, fill = class, ring = prediction, density
contours, thumbnails when zoomed in).

The points: a t-SNE of 10^6 images would take hours on a 2-core machine and is not what this
measures. The notebook trains a small model on up to 20k real images, lays their embeddings out
by a 2-D PCA (a stand-in for t-SNE) and repeats that layout with a little jitter up to N points;
label, prediction, split, loss and thumbnail of point i are those of image i mod 20k. Our view
gets these arrays through a subclass's ``_load`` (the same traits the engine would fill), so the
browser side is exactly what a 10^6-image engine would send.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, JupyterServer, _open_notebook  # noqa: E402

INSTALL_HINT = (
    'jupyter-scatter is not installed: pip install -e ".[bench]" (or pip install jupyter-scatter)'
)

SETUP = """
import json, time, numpy as np, pandas as pd, dashwidgets as dw
from pathlib import Path
from sklearn.decomposition import PCA
from dashwidgets.widgets._atlas import atlas_png
from dashwidgets.widgets._codec import SortedIndices
N = {n}
NREAL = min(N, 20000)
ds = dw.datasets.load('colored-digits', bias=0.99, seed=0, size=16, n_train=NREAL - 2000, n_val=1000, n_test=1000)
eng = dw.Engine(ds)
v1 = eng.train(epochs=1, batch_size=512, progress=False)
ev = eng.evaluate(v1)
base = (PCA(2).fit_transform(ev.embedding) * 10).astype(np.float32)  # stand-in for t-SNE
eng._projection.coords.put(v1.id, "transform", base)
eng._projection.reference = v1.id
src = np.arange(N) % NREAL
XY = (base[src] + np.random.default_rng(0).normal(0, 0.02 * base.std(0).mean(), (N, 2))).astype(np.float32)
XY[:NREAL] = base
grids, box = eng.density(v1, size=64)
aligned = ds.attributes.get('aligned')
BUNDLE = {bundle!r}

class BenchView(dw.ProjectionView):
    if BUNDLE:
        _esm = Path(BUNDLE)  # another build of the front end (before/after comparisons)

    def _load(self, vid):  # the arrays an engine with N images would send
        with self.hold_sync():
            self.xy = XY
            self.label = ds.labels[src]
            self.pred = ev.pred[src]
            self.correct = ev.correct[src]
            self.split_code = ds.split_codes()[src]
            self.aligned = aligned[src] if aligned is not None else np.zeros(0, np.uint8)
            self.loss = ev.loss[src]
            self.confidence = ev.confidence[src]
            self.density = grids
            self.density_box = [float(b) for b in box]

    def _valid_selection(self, value):  # as the view's own, checked against N points, not NREAL images
        return value.indices if isinstance(value, SortedIndices) else sorted({{int(i) for i in value}})

    def _on_custom_msg(self, _widget, content, buffers):  # thumbnails of image i mod NREAL
        if not isinstance(content, dict) or content.get("type") != "thumbs":
            return
        idx = np.asarray(content.get("indices", []), dtype=np.int64)[:2000]
        png, cols = atlas_png(ds.images[idx % NREAL], self.thumb_size)
        self.send({{"type": "thumbs", "id": content.get("id"), "indices": idx.tolist(), "cols": cols, "size": self.thumb_size}}, [png])

stamps = []
"""

SHOW_OURS = """
t_show = time.time()
view = BenchView(eng, v1, height=600)
t_built = time.time()  # the view's arrays built, serialised and handed to the kernel's sockets
view.observe(lambda c: stamps.append(time.time()), 'selection')
n_selected = lambda: len(view.selection)
view
"""

# jupyter-scatter at the same height and the same point size as ours (4 px above 50k points)
SHOW_PEER = """
import jscatter
t_show = time.time()
df = pd.DataFrame({'x': XY[:, 0], 'y': XY[:, 1], 'label': pd.Categorical(ds.labels[src].astype(int))})
sc = jscatter.Scatter(data=df, x='x', y='y', color_by='label', height=600, size=4 if N > 50000 else 5 if N > 20000 else 7)
sc.mouse(mode='lasso')
sc.widget.observe(lambda c: stamps.append(time.time()), 'selection')
n_selected = lambda: len(sc.selection())
sc.show()
"""

# Epoch ms of the first moment `canvas` shows points in >= 2 % of a 64x64 downsample (differs
# from its corner, the background, by more than 40 in some channel), or null after `timeout` ms.
POINTS_VISIBLE = """async ([selector, timeout]) => {
  const t0 = Date.now();
  const probe = document.createElement('canvas');
  probe.width = probe.height = 64;
  const g = probe.getContext('2d', { willReadFrequently: true });
  while (Date.now() - t0 < timeout) {
    const canvases = [...document.querySelectorAll(selector)].filter((c) => c.width > 100 && c.height > 100);
    for (const c of canvases) {
      g.clearRect(0, 0, 64, 64);
      g.drawImage(c, 0, 0, 64, 64);
      const d = g.getImageData(0, 0, 64, 64).data;
      let hit = 0;
      for (let k = 0; k < d.length; k += 4) {
        const diff = Math.max(Math.abs(d[k] - d[0]), Math.abs(d[k + 1] - d[1]), Math.abs(d[k + 2] - d[2]), Math.abs(d[k + 3] - d[3]));
        if (diff > 40) hit++;
      }
      if (hit >= 0.02 * 64 * 64) return Date.now();
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return null;
}"""

# The view's performance marks (js/projection.js: render, decoded, positions, colors, first-draw,
# points-ready) as [name, epoch ms], in order.
MARKS = """() => performance.getEntriesByType('mark').filter((m) => m.name.startsWith('dw-projection:'))
  .map((m) => [m.name.slice(14), performance.timeOrigin + m.startTime])"""

ZOOM = """async ([selector, cx, cy, frames]) => {
  const target = document.querySelector(selector);
  const root = document.querySelector('.dw-projection');
  const raf = () => new Promise((r) => requestAnimationFrame((t) => r(t)));
  const stamps = [], draw = [];
  const step = (40 * 120) / frames; // the same zoom depth (about 37x) whatever the number of frames
  for (let k = 0; k < frames; k++) {
    stamps.push(await raf());
    target.dispatchEvent(new WheelEvent('wheel', {deltaY: k < frames / 2 ? -step : step, clientX: cx, clientY: cy, bubbles: true, cancelable: true}));
    if (root) draw.push(parseFloat(root.dataset.frameMs));
  }
  const out = [];
  for (let k = 1; k < stamps.length; k++) out.push(stamps[k] - stamps[k - 1]);
  return [out, draw.slice(1)];
}"""

RUN_CELL = (
    "async (code) => { const app = window.jupyterapp; const nb = app.shell.currentWidget.content;"
    " await app.commands.execute('notebook:insert-cell-below');"
    " nb.activeCell.model.sharedModel.setSource(code);"
    " await app.commands.execute('notebook:run-cell'); }"
)


def lasso_latency(page, nb, box) -> tuple[float, int, float] | None:
    """Draw a rectangular lasso (x0, y0, x1, y1) and time mouse-up -> kernel observer:
    (seconds, points selected, mouse-up epoch seconds), or None when the selection did not change."""
    x0, y0, x1, y1 = box
    before = nb.kernel.eval("len(stamps)")
    page.mouse.move(x0, y0)
    page.mouse.down()
    for p in [(x1, y0), (x1, y1), (x0, y1), (x0, y0)]:
        page.mouse.move(*p, steps=6)
    up = time.time()
    page.mouse.up()
    deadline = time.time() + 30
    while nb.kernel.eval("len(stamps)") == before and time.time() < deadline:
        time.sleep(0.02)
    if nb.kernel.eval("len(stamps)") == before:
        return None
    page.wait_for_timeout(300)  # let a second selection message (if any) land before counting
    return nb.kernel.eval(f"stamps[{before}]") - up, nb.kernel.eval("n_selected()"), up


def measure_view(page, nb, n: int, which: str) -> dict:
    """Show the points in our view ("ours") or jupyter-scatter ("peer") and measure it."""
    ours = which == "ours"
    nb.kernel.exec("stamps.clear()")
    page.evaluate(RUN_CELL, SHOW_OURS if ours else SHOW_PEER)
    points_canvas = ".dw-projection canvas.dw-points" if ours else ".jp-OutputArea-output canvas"
    seen = page.evaluate(POINTS_VISIBLE, [points_canvas, 300_000])
    t_show = nb.kernel.eval("t_show")
    out = {"first_render_s": None if seen is None else seen / 1000 - t_show}
    if ours:
        root = page.locator(".dw-projection")
        out["renderer"] = root.get_attribute("data-renderer")
        marked = root.get_attribute("data-points-ready")  # absent in builds before the marker
        out["points_ready_marker_s"] = None if marked is None else float(marked) / 1000 - t_show
        # where the first frame went: seconds from the display cell's start to each stage
        stages = {"python_built": nb.kernel.eval("t_built") - t_show}
        for name, epoch_ms in page.evaluate(MARKS):
            stages.setdefault(name, epoch_ms / 1000 - t_show)
        out["stages_s"] = stages
        target = ".dw-projection canvas.dw-overlay"
    else:
        page.evaluate(  # the largest canvas of the peer's output: its points
            "() => { const cs = [...document.querySelectorAll('.jp-OutputArea-output canvas')];"
            " cs.sort((a, b) => b.width * b.height - a.width * a.height); cs[0].id = 'peer-canvas'; }"
        )
        target = "#peer-canvas"
    page.locator(target).scroll_into_view_if_needed()  # the mouse lassos in viewport coordinates
    page.wait_for_timeout(300)
    rect = page.locator(target).bounding_box()
    cx, cy = rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2
    page.mouse.move(cx, cy)
    frames, draws = page.evaluate(ZOOM, [target, cx, cy, 120 if n <= 100_000 else 30])
    out["frame_ms_median"] = statistics.median(frames)
    out["frame_ms_p95"] = sorted(frames)[int(0.95 * (len(frames) - 1))]
    out["draw_ms_median"] = statistics.median(draws) if draws else None
    page.wait_for_timeout(500)
    if ours:
        page.evaluate("() => document.querySelector('.dw-projection button.dw-reset').click()")
        page.wait_for_timeout(300)
    latencies, sizes = [], []
    for k in range(5):  # lassos of growing size around the plot's centre
        r = 0.05 + 0.03 * k
        box = (
            cx - r * rect["width"],
            cy - r * rect["height"],
            cx + r * rect["width"],
            cy + r * rect["height"],
        )
        timed = lasso_latency(page, nb, box)
        if timed is not None:  # None: the selection did not change, nothing to time
            latencies.append(timed[0])
            sizes.append(timed[1])
        page.wait_for_timeout(300)
    m = 3  # the extreme case: a lasso around the whole map
    whole = lasso_latency(
        page,
        nb,
        (
            rect["x"] + m,
            rect["y"] + m,
            rect["x"] + rect["width"] - m,
            rect["y"] + rect["height"] - m,
        ),
    )
    if ours and whole:  # where the whole-map lasso went: ms from mouse-up (page clock) per stage
        up_ms = whole[2] * 1000
        last = {}
        for name, epoch_ms in page.evaluate(MARKS):
            last[name] = epoch_ms  # the latest of each name: this lasso's
        out["lasso_all_stages_ms"] = {
            k: last[k] - up_ms
            for k in ("pointer-up", "lasso-hits", "selection-sent", "selection-drawn")
            if k in last
        }
        out["lasso_all_stages_ms"]["kernel_observer"] = whole[0] * 1000  # the kernel's clock
    out["lasso_ms_median"] = 1000 * statistics.median(latencies) if latencies else None
    out["lasso_sizes"] = sizes
    out["lasso_all_ms"], out["lasso_all_selected"] = (
        (1000 * whole[0], whole[1]) if whole else (None, 0)
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_timeout(500)
    return out


def peer_installed() -> bool:
    try:
        import jscatter  # noqa: F401
    except ImportError:
        return False
    return True


def ratio(peer, ours) -> str:
    if peer is None or ours is None or ours <= 0:
        return "n/a"
    r = peer / ours
    return f"{r:.2f}x" + ("" if r >= 1.0 else " <- below goal")


def fmt_s(v, unit="s", scale=1.0, digits=2) -> str:
    return "n/a" if v is None else f"{v * scale:.{digits}f} {unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--bundle",
        type=Path,
        default=None,
        help="our view's front end from this file (e.g. an older build)",
    )
    ap.add_argument("--no-peer", action="store_true", help="measure our view only")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    peer = not args.no_peer and peer_installed()
    if not peer and not args.no_peer:
        print(f"NOTE: {INSTALL_HINT}; measuring our view only, no ratios.", flush=True)
    server = JupyterServer("lab").start()
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n in args.sizes:
                context = browser.new_context(viewport={"width": 1280, "height": 1000})
                page = context.new_page()
                bundle = str(args.bundle.resolve()) if args.bundle else ""
                nb = _open_notebook(
                    page,
                    server,
                    f"bench_{n}.ipynb",
                    [SETUP.format(n=n, bundle=bundle)],
                    timeout=1800,
                )
                r = {"n": n, "ours": measure_view(page, nb, n, "ours")}
                if peer:
                    r["peer"] = measure_view(page, nb, n, "peer")
                nb.close()
                context.close()
                results.append(r)
                o, q = r["ours"], r.get("peer", {})
                print(
                    f"{n:>9,} points ({o['renderer']}), ours: first frame with points {fmt_s(o['first_render_s'])} "
                    f"(marker {fmt_s(o['points_ready_marker_s'])}) | zoom frame median {fmt_s(o['frame_ms_median'], 'ms', 1, 0)} "
                    f"(draw call {fmt_s(o['draw_ms_median'], 'ms', 1, 1)}) | lasso->Python median {fmt_s(o['lasso_ms_median'], 'ms', 1, 0)} "
                    f"for {min(o['lasso_sizes'], default=0):,}-{max(o['lasso_sizes'], default=0):,} points, "
                    f"whole map ({o['lasso_all_selected']:,}) {fmt_s(o['lasso_all_ms'], 'ms', 1, 0)}",
                    flush=True,
                )
                print(
                    f"{'':>9}  first frame stages (s from the display cell's start): "
                    + ", ".join(f"{k} {v:.2f}" for k, v in o.get("stages_s", {}).items()),
                    flush=True,
                )
                print(
                    f"{'':>9}  whole-map lasso stages (ms from mouse-up): "
                    + ", ".join(
                        f"{k} {v:.0f}" for k, v in o.get("lasso_all_stages_ms", {}).items()
                    ),
                    flush=True,
                )
                if peer:
                    print(
                        f"{'':>9}  jupyter-scatter: first frame {fmt_s(q['first_render_s'])} | zoom frame median "
                        f"{fmt_s(q['frame_ms_median'], 'ms', 1, 0)} | lasso->Python median {fmt_s(q['lasso_ms_median'], 'ms', 1, 0)} "
                        f"for {min(q['lasso_sizes'], default=0):,}-{max(q['lasso_sizes'], default=0):,} points, "
                        f"whole map ({q['lasso_all_selected']:,}) {fmt_s(q['lasso_all_ms'], 'ms', 1, 0)}",
                        flush=True,
                    )
                    print(
                        f"{'':>9}  ratio jupyter-scatter / ours (goal >= 1.0x): first frame {ratio(q['first_render_s'], o['first_render_s'])} | "
                        f"zoom frame {ratio(q['frame_ms_median'], o['frame_ms_median'])} | lasso {ratio(q['lasso_ms_median'], o['lasso_ms_median'])} | "
                        f"whole-map lasso {ratio(q['lasso_all_ms'], o['lasso_all_ms'])}",
                        flush=True,
                    )
            browser.close()
    finally:
        server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
