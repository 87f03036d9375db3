// Pointer interaction on the overlay: lasso / box selection, click-pick, pan, wheel zoom,
// double-click to refit. Every listener goes through `scope.bind`, so teardown removes them.

import { modeFromEvent } from "../lib/selection.js";

const CLICK_SLOP = 4; // px a pointer may move and still count as a click
const WHEEL_ZOOM = 0.0015; // zoom factor per wheel delta unit: exp(-deltaY * WHEEL_ZOOM)

/**
 * @param {{bind: Function}} scope the view's disposer
 * @param {HTMLCanvasElement} overlay
 * @param {object} ctl what the view exposes: `state` ({tool, drag, userMoved}), `view`
 *   (ViewTransform), `schedule(points = true)` (false: only the overlay changed), `viewChanged()`, `refit()`, `hover(p)`, `hideTooltip()`,
 *   `pick(p)` (nearest point or -1), `commit(hits, mode)`, `inPolygon(poly)`, `inBox(a, b)`,
 *   `toolChanged()`, `markPointerUp()`.
 */
export function bindPointer(scope, overlay, ctl) {
  const { state, view } = ctl;
  const local = (ev) => {
    const r = overlay.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };

  function finish(ev) {
    const d = state.drag;
    if (!d) return;
    ctl.markPointerUp();
    state.drag = null;
    ctl.toolChanged();
    if (d.kind === "pan") return ctl.schedule();
    if (d.moved < CLICK_SLOP) {
      // a click: pick the point under the cursor, or clear on empty space
      const hit = ctl.pick(d.start);
      if (hit >= 0) ctl.commit([hit], d.mode);
      else if (d.mode === "replace") ctl.commit([], "replace");
      return ctl.schedule();
    }
    if (d.kind === "lasso") ctl.commit(ctl.inPolygon(d.points.map(([x, y]) => view.toData(x, y))), d.mode);
    else if (d.kind === "box" && d.current) ctl.commit(ctl.inBox(view.toData(...d.start), view.toData(...d.current)), d.mode);
    ctl.schedule(false); // clear the outline; a new selection recolours (and redraws) the points itself
    if (ev) ev.preventDefault();
  }

  scope.bind(overlay, {
    pointerdown: (ev) => {
      overlay.setPointerCapture(ev.pointerId);
      const p = local(ev);
      const pan = state.tool === "pan" || ev.button === 1;
      state.drag = { kind: pan ? "pan" : state.tool, start: p, last: p, points: [p], mode: modeFromEvent(ev), moved: 0 };
      ctl.hideTooltip();
      if (pan) overlay.style.cursor = "grabbing";
      ev.preventDefault();
    },
    pointermove: (ev) => {
      const p = local(ev);
      const d = state.drag;
      if (!d) return ctl.hover(p);
      d.moved += Math.hypot(p[0] - d.last[0], p[1] - d.last[1]);
      if (d.kind === "pan") {
        state.userMoved = true;
        view.panBy(p[0] - d.last[0], p[1] - d.last[1]);
        ctl.viewChanged();
      } else if (d.kind === "lasso") {
        d.points.push(p);
      } else if (d.kind === "box") {
        d.current = p;
      }
      d.last = p;
      ctl.schedule(d.kind === "pan"); // a lasso or box being drawn changes only the overlay
    },
    pointerup: finish,
    pointercancel: () => {
      state.drag = null;
      ctl.schedule(false);
    },
    dblclick: () => {
      state.userMoved = false;
      ctl.refit();
    },
    pointerleave: () => ctl.hideTooltip(),
  });
  // zoom about the pointer; not passive, so the page does not scroll under the plot
  scope.bind(
    overlay,
    {
      wheel: (ev) => {
        ev.preventDefault();
        const [x, y] = local(ev);
        state.userMoved = true;
        view.zoomAt(x, y, Math.exp(-ev.deltaY * WHEEL_ZOOM));
        ctl.viewChanged();
        ctl.schedule();
      },
    },
    { passive: false },
  );
}
