// Pure helpers of the ImageGallery (unit-tested in js/tests/gallery.test.js).

/** "showing N of M" for the gallery's status line (thousands separated). */
export function showingText(shown, of) {
  return `showing ${Number(shown).toLocaleString("en-US")} of ${Number(of).toLocaleString("en-US")}`;
}

/**
 * Attribution values mapped linearly from [lo, hi] to 0..255 (one uint8 per pixel) for a colour
 * lookup table; a constant map (hi <= lo) is all 0. Non-finite values count as `lo`.
 */
export function heatLevels(heat, lo, hi) {
  const out = new Uint8Array(heat.length);
  const span = hi - lo;
  if (!(span > 0)) return out;
  for (let p = 0; p < heat.length; p++) {
    const v = heat[p];
    const t = Number.isFinite(v) ? (v - lo) / span : 0;
    out[p] = Math.round(255 * Math.min(1, Math.max(0, t)));
  }
  return out;
}
