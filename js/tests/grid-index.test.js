import { describe, expect, it } from "vitest";
import { GridIndex } from "../lib/grid-index.js";
import { selectInPolygon } from "../lib/selection.js";

const linearAll = (xs, ys) => Array.from(xs.keys()).filter((i) => !Number.isNaN(xs[i]) && !Number.isNaN(ys[i]));

describe("grid index queries", () => {
  it("skips points the filter rejects", () => {
    const g = new GridIndex(new Float32Array([10, 50, 52]), new Float32Array([10, 50, 50]), 16);
    expect(g.nearest(51.5, 50, 8)).toBe(2);
    expect(g.nearest(51.5, 50, 8, (i) => i !== 2)).toBe(1);
  });
  it("finds the points in a box and a polygon exactly as a linear scan does", () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296;
    const n = 5000;
    const xs = new Float32Array(n), ys = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      xs[i] = i % 97 === 0 ? NaN : (rnd() - 0.5) * 40 * (1 + (i % 3)); // uneven density
      ys[i] = rnd() * 10 - 3;
    }
    const g = new GridIndex(xs, ys); // default cell: about 4 points per cell
    const keep = (i) => i % 5 !== 0;
    const box = [-12.3, 7.7, -1.1, 4.4];
    const linearBox = [];
    for (let i = 0; i < n; i++) {
      if (xs[i] >= box[0] && xs[i] <= box[1] && ys[i] >= box[2] && ys[i] <= box[3] && keep(i)) linearBox.push(i);
    }
    expect(linearBox.length).toBeGreaterThan(100);
    expect(Array.from(g.inBox(...box, keep))).toEqual(linearBox);
    expect(g.inBox(...box, keep, 10)).toBeNull(); // more than max: null
    expect(Array.from(g.inBox(500, 600, 0, 1))).toEqual([]); // beyond the points
    const poly = [[-30, -3], [25, 0], [5, 7], [-10, 2]];
    expect(Array.from(g.inPolygon(poly, keep))).toEqual(selectInPolygon(xs, ys, poly, keep));
    expect(g.inPolygon(poly, keep).length).toBeGreaterThan(100);
    // a lasso around everything (gathered through flags) and a small one (sorted) both ascend
    // and agree with the scan
    const whole = [[-1e3, -1e3], [1e3, -1e3], [1e3, 1e3], [-1e3, 1e3]];
    const all = g.inPolygon(whole, keep);
    expect(all.length).toBe(selectInPolygon(xs, ys, whole, keep).length);
    expect(Array.from(all)).toEqual(selectInPolygon(xs, ys, whole, keep));
    const small = [[-1, 0], [1, 0], [0, 1]];
    expect(Array.from(g.inPolygon(small))).toEqual(selectInPolygon(xs, ys, small));
    expect(g.inPolygon(small).length).toBeLessThan(n / 16);
    expect(Array.from(g.inBox(-1e3, 1e3, -1e3, 1e3))).toEqual(linearAll(xs, ys));
    // random concave and self-crossing lassos (cells wholly inside taken whole, the rest tested
    // per point) select exactly what the per-point scan does
    for (let t = 0; t < 20; t++) {
      const k = 3 + Math.floor(rnd() * 30);
      const lasso = Array.from({ length: k }, () => [(rnd() - 0.5) * 150, rnd() * 14 - 5]);
      expect(Array.from(g.inPolygon(lasso, keep))).toEqual(selectInPolygon(xs, ys, lasso, keep));
    }
    // nearest agrees with brute force for a few queries
    for (const [qx, qy] of [[0, 0], [-20, 5], [33, -2]]) {
      let best = -1, bestD = 1.5 * 1.5;
      for (let i = 0; i < n; i++) {
        const d = (xs[i] - qx) ** 2 + (ys[i] - qy) ** 2;
        if (d <= bestD) [best, bestD] = [i, d];
      }
      expect(g.nearest(qx, qy, 1.5)).toBe(best);
    }
  });
});

