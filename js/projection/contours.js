// Density contours per split: iso-lines of the engine's density grids, drawn on the overlay.

import { getArray } from "../lib/binary.js";
import { SPLITS } from "../lib/colors.js";
import { isoSegments } from "../lib/contours.js";
import { SPLIT_NAMES } from "./data.js";

export const CONTOUR_LEVELS = [0.12, 0.3, 0.6];

/**
 * Per split, a flat list of segment end points in data coordinates (x0, y0, x1, y1, ...), from
 * `density` ([splits, G, G]) over `density_box` ([x0, x1, y0, y1]).
 */
export function contourSegments(model) {
  const { data: dens, shape } = getArray(model, "density", "float32", [SPLIT_NAMES.length, null, null]);
  const [, g, g2] = shape;
  const box = model.get("density_box");
  if (!dens.length || box.length !== 4 || g !== g2) return [];
  const [x0, x1, y0, y1] = box;
  const dx = (x1 - x0) / g, dy = (y1 - y0) / g;
  const out = [];
  for (let s = 0; s < shape[0]; s++) {
    const grid = dens.subarray(s * g * g, (s + 1) * g * g);
    const flat = [];
    for (const level of CONTOUR_LEVELS) {
      for (const [c0, r0, c1, r1] of isoSegments(grid, g, g, level)) {
        flat.push(x0 + (c0 + 0.5) * dx, y0 + (r0 + 0.5) * dy, x0 + (c1 + 0.5) * dx, y0 + (r1 + 0.5) * dy);
      }
    }
    out.push(flat);
  }
  return out;
}

/**
 * Stroke each shown split's contours in its colour, over a faint halo in the background colour
 * (`colors` from themeColors) so the lines stay apart from the points in light and dark themes.
 */
export function drawContours(ctx, segments, view, visibleSplit, colors = null) {
  const dark = Boolean(colors && colors.dark);
  const path = (segs) => {
    ctx.beginPath();
    for (let k = 0; k < segs.length; k += 4) {
      const [ax, ay] = view.toScreen(segs[k], segs[k + 1]);
      const [bx, by] = view.toScreen(segs[k + 2], segs[k + 3]);
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
    }
  };
  if (colors) {
    ctx.lineWidth = 3;
    ctx.globalAlpha = 0.35;
    ctx.strokeStyle = colors.bg;
    segments.forEach((segs, s) => {
      if (!visibleSplit[s] || !segs.length) return;
      path(segs);
      ctx.stroke();
    });
  }
  ctx.lineWidth = dark ? 1.25 : 1;
  ctx.globalAlpha = dark ? 0.85 : 0.6;
  segments.forEach((segs, s) => {
    if (!visibleSplit[s] || !segs.length) return;
    ctx.strokeStyle = SPLITS[s];
    path(segs);
    ctx.stroke();
  });
  ctx.globalAlpha = 1;
}
