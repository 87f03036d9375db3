// Text and geometry of the ConceptWindow (js/concepts.js): pure, unit-tested in tests/concepts.test.js.

/** "0.62" for a score or an activation (three significant digits for larger activations). */
export function formatValue(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** The label of one score row: "under-performing subgroup #3 (accuracy 40%, 25 images)". */
export function scoreLabel(s) {
  const kind = s.under ? "under-performing" : "well-performing";
  return `${kind} subgroup #${s.subgroup} (accuracy ${Math.round(100 * s.accuracy)}%, ${s.size} images)`;
}

/** Left/top/width/height (CSS percentages) of a box [y0, x0, y1, x1] given as cell fractions. */
export function boxStyle([y0, x0, y1, x1]) {
  const pct = (v) => `${(100 * v).toFixed(3)}%`;
  return { top: pct(y0), left: pct(x0), height: pct(y1 - y0), width: pct(x1 - x0) };
}
