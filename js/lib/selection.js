// Selection geometry: lasso / box hit tests and how a new selection combines with the old one.

/** True when (x, y) lies inside the polygon [[x0,y0], [x1,y1], ...] (even-odd rule). */
export function pointInPolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Indices of points inside a polygon given in the same space as xs/ys.
 * `visible(i)` filters hidden points (e.g. a split that is toggled off).
 * @returns {number[]} ascending indices
 */
export function selectInPolygon(xs, ys, polygon, visible = () => true) {
  if (polygon.length < 3) return [];
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of polygon) {
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const out = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (x < minX || x > maxX || y < minY || y > maxY) continue;
    if (visible(i) && pointInPolygon(x, y, polygon)) out.push(i);
  }
  return out;
}

/** Indices of points inside the axis-aligned box spanned by two corners. */
export function selectInBox(xs, ys, [x0, y0], [x1, y1], visible = () => true) {
  const lx = Math.min(x0, x1), hx = Math.max(x0, x1);
  const ly = Math.min(y0, y1), hy = Math.max(y0, y1);
  const out = [];
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] >= lx && xs[i] <= hx && ys[i] >= ly && ys[i] <= hy && visible(i)) out.push(i);
  }
  return out;
}

/**
 * Combine a previous selection with a new hit set.
 * mode "replace" (plain drag), "add" (shift), "remove" (alt). Returns ascending unique indices.
 */
export function combine(previous, hits, mode) {
  if (mode === "replace") {
    let ascending = true; // the hit tests return ascending indices: skip the sort for them
    for (let k = 1; k < hits.length && ascending; k++) ascending = hits[k] > hits[k - 1];
    return ascending ? Array.from(hits) : Array.from(new Set(hits)).sort((a, b) => a - b);
  }
  const set = new Set(previous);
  if (mode === "add") for (const i of hits) set.add(i);
  else if (mode === "remove") for (const i of hits) set.delete(i);
  else throw new Error(`unknown selection mode ${mode}`);
  return Array.from(set).sort((a, b) => a - b);
}

/** The selection mode a pointer event asks for: alt removes, shift adds, otherwise replace. */
export function modeFromEvent(event) {
  if (event.altKey) return "remove";
  if (event.shiftKey) return "add";
  return "replace";
}
