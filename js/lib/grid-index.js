// A uniform grid over 2-D positions for fast lookups: the nearest point (hover, click), the
// points in a box (thumbnails of what is visible) and in a polygon (lasso). Flat typed arrays
// (points sorted by cell, counting sort): building it for 10^6 points takes tens of ms and no
// per-point objects. The projection builds it once per data set in data coordinates, so zooming
// and panning never rebuild it.

import { polygonBounds } from "./selection.js";

const MAX_CELLS_PER_SIDE = 2048;
const NONE = 0, ALL = 1, TEST = 2; // how a query takes a cell's points

export class GridIndex {
  /**
   * @param {ArrayLike<number>} xs x of every point (NaN for points that are never found)
   * @param {ArrayLike<number>} ys y
   * @param {number} [cell] cell size in the units of xs/ys; default: about 4 points per cell
   */
  constructor(xs, ys, cell = 0) {
    this.xs = xs;
    this.ys = ys;
    const n = xs.length;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, m = 0;
    for (let i = 0; i < n; i++) {
      const x = xs[i], y = ys[i];
      if (Number.isNaN(x) || Number.isNaN(y)) continue;
      m++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    if (!m) x0 = y0 = x1 = y1 = 0;
    const span = Math.max(x1 - x0, y1 - y0, 1e-9);
    if (!(cell > 0)) cell = span / Math.max(1, Math.ceil(Math.sqrt(m / 4)));
    cell = Math.max(cell, span / MAX_CELLS_PER_SIDE);
    this.cell = cell;
    this.x0 = x0;
    this.y0 = y0;
    this.nx = Math.floor((x1 - x0) / cell) + 1;
    this.ny = Math.floor((y1 - y0) / cell) + 1;
    // counting sort of the points by cell: cellStart[c] .. cellStart[c + 1] index into `order`
    const cellOf = new Int32Array(n);
    const start = new Int32Array(this.nx * this.ny + 1);
    for (let i = 0; i < n; i++) {
      const x = xs[i], y = ys[i];
      if (Number.isNaN(x) || Number.isNaN(y)) {
        cellOf[i] = -1;
        continue;
      }
      const c = Math.floor((y - y0) / cell) * this.nx + Math.floor((x - x0) / cell);
      cellOf[i] = c;
      start[c + 1]++;
    }
    for (let c = 0; c < this.nx * this.ny; c++) start[c + 1] += start[c];
    const fill = start.slice(0, -1);
    const order = new Int32Array(m);
    for (let i = 0; i < n; i++) if (cellOf[i] >= 0) order[fill[cellOf[i]]++] = i; // ascending within a cell
    this.start = start;
    this.order = order;
  }

  /** Cell column / row range [c0, c1, r0, r1] covering x0..x1, y0..y1 (clamped; empty when c0 > c1). */
  _range(x0, x1, y0, y1) {
    const clamp = (v, hi) => Math.min(hi, Math.max(0, v));
    return [
      clamp(Math.floor((x0 - this.x0) / this.cell), this.nx - 1),
      x1 < this.x0 ? -1 : clamp(Math.floor((x1 - this.x0) / this.cell), this.nx - 1),
      clamp(Math.floor((y0 - this.y0) / this.cell), this.ny - 1),
      y1 < this.y0 ? -1 : clamp(Math.floor((y1 - this.y0) / this.cell), this.ny - 1),
    ];
  }

  /** Index of the nearest point within `radius` of (x, y) for which `keep(i)` holds, or -1. */
  nearest(x, y, radius = 8, keep = null) {
    const [c0, c1, r0, r1] = this._range(x - radius, x + radius, y - radius, y + radius);
    let best = -1, bestD = radius * radius;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cellIdx = r * this.nx + c;
        for (let k = this.start[cellIdx]; k < this.start[cellIdx + 1]; k++) {
          const i = this.order[k];
          const dx = this.xs[i] - x, dy = this.ys[i] - y;
          const d = dx * dx + dy * dy;
          if (d <= bestD && (!keep || keep(i))) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }

  /**
   * Indices of the points with x0 <= x <= x1 and y0 <= y <= y1 for which `keep(i)` holds, in
   * ascending order; null as soon as more than `max` are found.
   * @returns {Int32Array|null}
   */
  inBox(x0, x1, y0, y1, keep = null, max = Infinity) {
    const range = this._range(x0, x1, y0, y1);
    const [c0, c1, r0, r1] = range;
    if (max < Infinity) {
      const out = [];
      for (let r = r0; r <= r1; r++) {
        for (let k = this.start[r * this.nx + c0]; k < this.start[r * this.nx + c1 + 1]; k++) {
          const i = this.order[k];
          const x = this.xs[i], y = this.ys[i];
          if (x < x0 || x > x1 || y < y0 || y > y1 || (keep && !keep(i))) continue;
          out.push(i);
          if (out.length > max) return null;
        }
      }
      return Int32Array.from(out).sort();
    }
    // cells wholly inside the box take all their points, the border cells test each
    const cellMode = (c, r) => (c > c0 && c < c1 && r > r0 && r < r1 ? ALL : TEST);
    return this._collect(range, cellMode, (x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1, keep);
  }

  /** Indices of the points inside `polygon` ([[x, y], ...], even-odd rule) for which `keep(i)`
   * holds, ascending. Only the cells under the polygon's bounding box are visited, and only those
   * an edge passes near test each point: any other cell lies wholly inside or outside, and its
   * centre decides for all its points (a lasso around the whole map tests a thin border). */
  inPolygon(polygon, keep = null) {
    if (polygon.length < 3) return new Int32Array(0);
    const m = polygon.length;
    const px = new Float64Array(m), py = new Float64Array(m);
    polygon.forEach(([x, y], k) => ((px[k] = x), (py[k] = y)));
    const inside = (x, y) => {
      let c = false;
      for (let i = 0, j = m - 1; i < m; j = i++) {
        const yi = py[i], yj = py[j];
        if (yi > y !== yj > y && x < ((px[j] - px[i]) * (y - yi)) / (yj - yi) + px[i]) c = !c;
      }
      return c;
    };
    const range = this._range(...polygonBounds(polygon));
    const [c0, c1, r0, r1] = range;
    const w = c1 - c0 + 1, h = r1 - r0 + 1;
    if (w <= 0 || h <= 0) return new Int32Array(0);
    // mark the cells within one cell of each edge (samples every half cell: a conservative cover)
    const near = new Uint8Array(w * h);
    for (let i = 0, j = m - 1; i < m; j = i++) {
      const steps = Math.ceil(Math.max(Math.abs(px[i] - px[j]), Math.abs(py[i] - py[j])) / (0.5 * this.cell)) + 1;
      for (let s = 0; s <= steps; s++) {
        const x = px[j] + ((px[i] - px[j]) * s) / steps, y = py[j] + ((py[i] - py[j]) * s) / steps;
        const c = Math.floor((x - this.x0) / this.cell) - c0, r = Math.floor((y - this.y0) / this.cell) - r0;
        for (let rr = Math.max(0, r - 1); rr <= Math.min(h - 1, r + 1); rr++) {
          for (let cc = Math.max(0, c - 1); cc <= Math.min(w - 1, c + 1); cc++) near[rr * w + cc] = 1;
        }
      }
    }
    const half = 0.5 * this.cell;
    const cellMode = (c, r) => {
      if (near[(r - r0) * w + (c - c0)]) return TEST;
      return inside(this.x0 + c * this.cell + half, this.y0 + r * this.cell + half) ? ALL : NONE;
    };
    return this._collect(range, cellMode, inside, keep);
  }

  /**
   * Ascending indices of the points in the cells `range` ([c0, c1, r0, r1]) that `cellMode(c, r)`
   * takes whole (ALL) or point by point through `test(x, y)` (TEST), and `keep(i)` accepts. A large
   * result (a lasso around the whole map) is gathered through a flag per point, in index order,
   * instead of sorted (a sort of 10^6 indices costs ~0.1 s); a small one is sorted.
   * @returns {Int32Array}
   */
  _collect([c0, c1, r0, r1], cellMode, test, keep) {
    const { xs, ys, order, start, nx } = this;
    let candidates = 0;
    for (let r = r0; r <= r1 && c0 <= c1; r++) candidates += start[r * nx + c1 + 1] - start[r * nx + c0];
    const viaFlags = candidates > xs.length / 16;
    const flags = viaFlags ? new Uint8Array(xs.length) : null;
    const out = new Int32Array(viaFlags ? 0 : candidates);
    let m = 0;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const mode = cellMode(c, r);
        if (mode === NONE) continue;
        for (let k = start[r * nx + c], end = start[r * nx + c + 1]; k < end; k++) {
          const i = order[k];
          if ((mode === TEST && !test(xs[i], ys[i])) || (keep && !keep(i))) continue;
          if (viaFlags) flags[i] = 1;
          else out[m] = i;
          m++;
        }
      }
    }
    if (!viaFlags) return out.slice(0, m).sort();
    const hits = new Int32Array(m);
    for (let i = 0, k = 0; k < m; i++) if (flags[i]) hits[k++] = i;
    return hits;
  }
}
