// A horizontal colour bar on a canvas: what a heatmap's colours mean (the labels are DOM text
// beside it, so they follow the theme).

/**
 * Paint `canvas` (CSS size w x h, sharp on high-DPI screens) left to right with `colorAt(t)`, a
 * CSS colour for t in [0, 1] (t = 0 at the left edge, 1 at the right).
 */
export function paintColorbar(canvas, w, h, colorAt) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  for (let x = 0; x < w; x++) {
    ctx.fillStyle = colorAt(w === 1 ? 0 : x / (w - 1));
    ctx.fillRect(x, 0, 1, h);
  }
}

/** `colorAt` for a 256-entry [r, g, b, ...] lookup table (lib/colors.js colormapLut). */
export function lutColor(lut) {
  return (t) => {
    const v = Math.round(Math.min(1, Math.max(0, t)) * 255) * 3;
    return `rgb(${lut[v]},${lut[v + 1]},${lut[v + 2]})`;
  };
}
