// Overlay drawing: zoomed-in thumbnails in place of points, and the lasso / box being dragged.

import { BINARY, categorical } from "../lib/colors.js";

/**
 * Indices of the shown points inside the view (from `index`, a GridIndex in data coordinates:
 * only the cells under the view are visited), or null when more than `max` are (too many to
 * draw as images).
 */
export function pointsInView(index, view, isVisible, max) {
  const [x0, x1, y0, y1] = view.dataBox();
  return index.inBox(x0, x1, y0, y1, isVisible, max);
}

/** Draw the cached thumbnails of `indices` centred on their points; returns how many were drawn. */
export function drawThumbnails(ctx, { data, view, thumbs, indices, zoom, selected, anySelected, colors }) {
  const size = Math.max(20, Math.min(72, 14 * Math.sqrt(zoom)));
  let drawn = 0;
  for (const i of indices) {
    const t = thumbs.get(i);
    if (!t) continue;
    const [sx, sy] = view.toScreen(data.xs[i], data.ys[i]);
    ctx.globalAlpha = anySelected && !selected[i] ? 0.35 : 1;
    if (colors) {
      // a frame in the background colour keeps each image apart from its neighbours in either theme
      ctx.fillStyle = colors.bg;
      ctx.fillRect(sx - size / 2 - 2, sy - size / 2 - 2, size + 4, size + 4);
    }
    ctx.drawImage(t.bitmap, t.sx, t.sy, t.size, t.size, sx - size / 2, sy - size / 2, size, size);
    ctx.lineWidth = 2;
    ctx.strokeStyle = data.correct[i] ? categorical(data.label[i]) : BINARY[0];
    ctx.strokeRect(sx - size / 2, sy - size / 2, size, size);
    drawn++;
  }
  ctx.globalAlpha = 1;
  return drawn;
}

/** The dashed outline of the lasso or box being dragged (screen coordinates), in the theme's text colour. */
export function drawDragShape(ctx, drag, colors) {
  if (!drag) return;
  ctx.strokeStyle = colors ? colors.fg : "#333";
  ctx.setLineDash([4, 3]);
  if (drag.kind === "lasso" && drag.points.length > 1) {
    ctx.beginPath();
    drag.points.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
  } else if (drag.kind === "box" && drag.current) {
    const [ax, ay] = drag.start, [bx, by] = drag.current;
    ctx.strokeRect(Math.min(ax, bx), Math.min(ay, by), Math.abs(bx - ax), Math.abs(by - ay));
  }
  ctx.setLineDash([]);
}
