// Pure helpers of the RegionView: the map quantile that mitigation thresholds at (numpy's linear
// quantile, float32 like numpy computes it on float32 maps, so the preview removes exactly the
// pixels eng.augment changes), the removed-pixel mask, and the reliability chart's text.

const f32 = Math.fround;

/**
 * numpy.quantile(values, q) (method "linear") of a float32 map, rounded as numpy rounds it for
 * float32 input: sorted values v, position (n - 1) q, interpolated between its neighbours in
 * float32 (numpy's _lerp, which counts from the upper neighbour when the fraction is >= 0.5).
 */
export function linearQuantile(values, q) {
  const n = values.length;
  if (!n) return NaN;
  const v = Float32Array.from(values, Math.abs).sort();
  const pos = (n - 1) * q;
  if (pos >= n - 1) return v[n - 1];
  if (pos <= 0) return v[0];
  const lo = Math.floor(pos), t = pos - lo;
  const a = v[lo], b = v[lo + 1];
  const diff = f32(b - a);
  return t >= 0.5 ? f32(b - f32(diff * f32(1 - t))) : f32(a + f32(diff * f32(t)));
}

/**
 * The pixels mitigation changes: 1 where |map| >= the map's `q` quantile (classical.top_regions).
 * Returns { mask: Uint8Array, count, threshold }.
 */
export function removedPixels(values, q) {
  const threshold = linearQuantile(values, q);
  const mask = new Uint8Array(values.length);
  let count = 0;
  for (let p = 0; p < values.length; p++) {
    if (Math.abs(values[p]) >= threshold) {
      mask[p] = 1;
      count++;
    }
  }
  return { mask, count, threshold };
}

/** "q = 0.70: pixels above the 0.70 quantile (top 30 %)". */
export function quantileText(q) {
  return `q = ${q.toFixed(2)}: pixels above the map's ${q.toFixed(2)} quantile (top ${Math.round(100 * (1 - q))} %)`;
}

/** Title of the reliability diagram: "Reliability on val (20 bins) · ECE 0.019". */
export function reliabilityTitle(split, bins, ece) {
  const e = ece === null || ece === undefined ? "n/a" : ece.toFixed(3);
  return `Reliability on ${split} (${bins} bins) · ECE ${e}`;
}

/** Ticks for a share axis whose largest value is `max` (0 to a round top, 3 to 5 ticks). */
export function shareTicks(max) {
  const top = !(max > 0) ? 1 : max <= 0.1 ? Math.ceil(max * 40) / 40 : max <= 0.5 ? Math.ceil(max * 10) / 10 : 1;
  const step = top / 2;
  return [0, +step.toPrecision(6), +top.toPrecision(6)];
}
