// Colour scales shared by the views.

// tab10 then tab20's light variants: distinct categorical colours for up to 20 classes.
export const CATEGORICAL = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
  "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
];

/** "#rrggbb" -> [r, g, b] in [0, 1]. */
export function hexToRgb(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  return [parseInt(m[1], 16) / 255, parseInt(m[2], 16) / 255, parseInt(m[3], 16) / 255];
}

/** Categorical colour of category i (wraps after the palette ends). */
export function categorical(i) {
  return CATEGORICAL[((i % CATEGORICAL.length) + CATEGORICAL.length) % CATEGORICAL.length];
}

// Viridis anchors for sequential values (loss, confidence).
const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

/** Sequential colour for t in [0, 1] as [r, g, b] in [0, 1]. */
export function sequential(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(VIRIDIS[i]), b = hexToRgb(VIRIDIS[i + 1]);
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** Two-colour scale for booleans: correct (teal) / wrong (red), aligned / conflicting, ... */
export const BINARY = ["#d62728", "#1b9e77"];

/** Split colours: train, val, test. */
export const SPLITS = ["#4c78a8", "#9c755f", "#f58518"];

// Heatmap colormaps as anchor colours, evenly spaced from 0 to 1 (matplotlib's, sampled).
export const COLORMAPS = {
  jet: ["#000080", "#0000ff", "#0080ff", "#00ffff", "#80ff80", "#ffff00", "#ff8000", "#ff0000", "#800000"],
  viridis: ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"],
  inferno: ["#000004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446", "#ed6925", "#fb9b06", "#fcffa4"],
  gray: ["#000000", "#ffffff"],
};

/** 256-entry lookup table [r, g, b, r, g, b, ...] (0..255) of a colormap by name. */
export function colormapLut(name) {
  const anchors = COLORMAPS[name];
  if (!anchors) throw new Error(`unknown colormap: ${name}`);
  const rgb = anchors.map(hexToRgb);
  const lut = new Uint8ClampedArray(256 * 3);
  for (let v = 0; v < 256; v++) {
    const x = (v / 255) * (rgb.length - 1);
    const i = Math.min(rgb.length - 2, Math.floor(x));
    const f = x - i;
    for (let c = 0; c < 3; c++) lut[v * 3 + c] = Math.round(255 * (rgb[i][c] + (rgb[i + 1][c] - rgb[i][c]) * f));
  }
  return lut;
}

/**
 * Colour `heat` (uint8 values, one per pixel) with `lut` into RGBA `out`. With `base` (RGBA of the
 * image) the heat is blended over it at `opacity`; without, the heatmap is opaque.
 */
export function paintHeat(heat, lut, out, base = null, opacity = 1) {
  for (let p = 0; p < heat.length; p++) {
    const v = heat[p] * 3, o = p * 4;
    if (base) {
      for (let c = 0; c < 3; c++) out[o + c] = base[o + c] * (1 - opacity) + lut[v + c] * opacity;
    } else {
      out[o] = lut[v];
      out[o + 1] = lut[v + 1];
      out[o + 2] = lut[v + 2];
    }
    out[o + 3] = 255;
  }
  return out;
}
