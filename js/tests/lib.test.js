import { describe, expect, it } from "vitest";
import { blobOf, typed } from "../lib/binary.js";
import { combine, modeFromEvent, pointInPolygon, selectInBox, selectInPolygon } from "../lib/selection.js";
import { ViewTransform, bounds } from "../lib/view.js";
import { categorical, colormapLut, hexToRgb, paintHeat, sequential, CATEGORICAL } from "../lib/colors.js";
import { isoSegments } from "../lib/contours.js";
import { changeColor, changeOf, confusionCounts, mosaicCells, traceLayout } from "../lib/mosaic-layout.js";
import { GridIndex } from "../lib/grid-index.js";

describe("binary", () => {
  it("views aligned bytes without copying", () => {
    const src = new Float32Array([1.5, -2, 3]);
    const dv = new DataView(src.buffer);
    const out = typed(dv, "float32");
    expect(Array.from(out)).toEqual([1.5, -2, 3]);
    expect(out.buffer).toBe(src.buffer);
  });
  it("copies unaligned bytes", () => {
    const raw = new Uint8Array(9);
    const f = new Float32Array([7, 8]);
    raw.set(new Uint8Array(f.buffer), 1);
    const out = typed(new DataView(raw.buffer, 1, 8), "float32");
    expect(Array.from(out)).toEqual([7, 8]);
  });
  it("rejects partial values and unknown dtypes, treats null as empty", () => {
    expect(() => typed(new DataView(new ArrayBuffer(6)), "float32")).toThrow(/whole number/);
    expect(() => typed(new DataView(new ArrayBuffer(4)), "int64")).toThrow(/unknown dtype/);
    expect(typed(null, "uint16").length).toBe(0);
  });
  it("wraps bytes in a blob", async () => {
    const b = blobOf(new DataView(new Uint8Array([1, 2, 3]).buffer, 1, 2));
    expect(b.size).toBe(2);
    expect(b.type).toBe("image/png");
  });
});

describe("selection", () => {
  const square = [[0, 0], [10, 0], [10, 10], [0, 10]];
  it("tests points against a polygon", () => {
    expect(pointInPolygon(5, 5, square)).toBe(true);
    expect(pointInPolygon(11, 5, square)).toBe(false);
    // concave "C" shape: the notch is outside
    const c = [[0, 0], [10, 0], [10, 3], [3, 3], [3, 7], [10, 7], [10, 10], [0, 10]];
    expect(pointInPolygon(6, 5, c)).toBe(false);
    expect(pointInPolygon(1, 5, c)).toBe(true);
  });
  it("selects inside a lasso and honours the visibility filter", () => {
    const xs = new Float32Array([1, 5, 20, 9]);
    const ys = new Float32Array([1, 5, 5, 9]);
    expect(selectInPolygon(xs, ys, square)).toEqual([0, 1, 3]);
    expect(selectInPolygon(xs, ys, square, (i) => i !== 1)).toEqual([0, 3]);
    expect(selectInPolygon(xs, ys, [[0, 0], [1, 1]])).toEqual([]);
  });
  it("selects inside a box from any two corners", () => {
    const xs = new Float32Array([1, 5, 20]);
    const ys = new Float32Array([1, 5, 5]);
    expect(selectInBox(xs, ys, [6, 6], [0, 0])).toEqual([0, 1]);
  });
  it("combines selections: replace, add (shift), remove (alt)", () => {
    expect(combine([1, 2], [5, 3, 3], "replace")).toEqual([3, 5]);
    expect(combine([1, 2], [4, 8, 9], "replace")).toEqual([4, 8, 9]);
    expect(combine([1, 2], [5, 2], "add")).toEqual([1, 2, 5]);
    expect(combine([1, 2, 5], [2, 9], "remove")).toEqual([1, 5]);
    expect(() => combine([], [], "xor")).toThrow();
    expect(modeFromEvent({ altKey: true, shiftKey: true })).toBe("remove");
    expect(modeFromEvent({ shiftKey: true })).toBe("add");
    expect(modeFromEvent({})).toBe("replace");
  });
});

describe("view transform", () => {
  it("fits bounds and round-trips coordinates", () => {
    const v = new ViewTransform(200, 100).fit([0, 0, 10, 10], 0);
    expect(v.scale).toBe(10);
    expect(v.toScreen(5, 5)).toEqual([100, 50]);
    expect(v.toScreen(0, 10)).toEqual([50, 0]); // data y up, screen y down
    const [x, y] = v.toData(...v.toScreen(3.3, 7.7));
    expect(x).toBeCloseTo(3.3);
    expect(y).toBeCloseTo(7.7);
  });
  it("zooms about the cursor and pans", () => {
    const v = new ViewTransform(200, 100).fit([0, 0, 10, 10], 0);
    const before = v.toData(30, 20);
    v.zoomAt(30, 20, 4);
    const after = v.toData(30, 20);
    expect(after[0]).toBeCloseTo(before[0]);
    expect(after[1]).toBeCloseTo(before[1]);
    expect(v.scale).toBe(40);
    v.panBy(40, 0);
    expect(v.toData(70, 20)[0]).toBeCloseTo(before[0]);
  });
  it("gives the visible data box and a clip matrix that maps the centre to 0", () => {
    const v = new ViewTransform(200, 100).fit([0, 0, 10, 10], 0);
    expect(v.dataBox()).toEqual([-5, 15, 0, 10]);
    const m = v.clipMatrix();
    const cx = m[0] * 5 + m[6], cy = m[4] * 5 + m[7];
    expect(cx).toBeCloseTo(0);
    expect(cy).toBeCloseTo(0);
    expect(m[0] * 15 + m[6]).toBeCloseTo(1); // right edge
  });
  it("computes bounds ignoring NaN", () => {
    expect(bounds(new Float32Array([1, NaN, -3]), new Float32Array([2, 0, 5]))).toEqual([-3, 2, 1, 5]);
    expect(bounds(new Float32Array([]), new Float32Array([]))).toEqual([-1, -1, 1, 1]);
  });
});

describe("colours", () => {
  it("parses hex and wraps the categorical palette", () => {
    expect(hexToRgb("#ff0080")).toEqual([1, 0, 128 / 255]);
    expect(() => hexToRgb("red")).toThrow();
    expect(categorical(0)).toBe(CATEGORICAL[0]);
    expect(categorical(CATEGORICAL.length + 2)).toBe(CATEGORICAL[2]);
    expect(new Set(CATEGORICAL).size).toBe(CATEGORICAL.length);
  });
  it("interpolates the sequential scale and clamps", () => {
    expect(sequential(0)).toEqual(hexToRgb("#440154"));
    expect(sequential(2)).toEqual(hexToRgb("#fde725"));
    expect(sequential(NaN)).toEqual(hexToRgb("#440154"));
    const mid = sequential(0.5);
    expect(mid[1]).toBeCloseTo(hexToRgb("#21918c")[1]);
  });
});

describe("contours", () => {
  it("traces a closed ring around a bump", () => {
    const n = 9;
    const grid = new Float32Array(n * n);
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) grid[r * n + c] = Math.exp(-((r - 4) ** 2 + (c - 4) ** 2) / 4);
    const segs = isoSegments(grid, n, n, 0.5);
    expect(segs.length).toBeGreaterThan(4);
    for (const [x0, y0, x1, y1] of segs) {
      // every endpoint lies on the 0.5 level set: radius^2 = 4 ln 2
      for (const [x, y] of [[x0, y0], [x1, y1]]) {
        const r2 = (x - 4) ** 2 + (y - 4) ** 2;
        expect(Math.abs(r2 - 4 * Math.log(2))).toBeLessThan(0.6);
      }
    }
    expect(isoSegments(grid, n, n, 2)).toEqual([]);
  });
});

describe("grid index", () => {
  it("finds the nearest point within a radius", () => {
    const sx = new Float32Array([10, 50, 52, NaN]);
    const sy = new Float32Array([10, 50, 50, 0]);
    const g = new GridIndex(sx, sy, 16);
    expect(g.nearest(51.5, 50, 8)).toBe(2);
    expect(g.nearest(11, 9, 8)).toBe(0);
    expect(g.nearest(200, 200, 8)).toBe(-1);
    expect(g.nearest(0, 0, 8)).toBe(-1); // the NaN point is never found
  });
});

describe("heatmap colormaps", () => {
  it("spans each colormap's anchors and rejects unknown names", () => {
    const jet = colormapLut("jet");
    expect(jet.length).toBe(768);
    expect(Array.from(jet.slice(0, 3))).toEqual([0, 0, 128]);
    expect(Array.from(jet.slice(765))).toEqual([128, 0, 0]);
    const gray = colormapLut("gray");
    for (const v of [0, 17, 128, 255]) expect(Array.from(gray.slice(v * 3, v * 3 + 3))).toEqual([v, v, v]);
    expect(() => colormapLut("rainbow")).toThrow(/unknown colormap/);
  });
  it("paints opaque heat, and blends it over an image at the given opacity", () => {
    const lut = colormapLut("gray");
    const heat = new Uint8Array([0, 255]);
    const out = paintHeat(heat, lut, new Uint8ClampedArray(8));
    expect(Array.from(out)).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
    const base = new Uint8ClampedArray([100, 100, 100, 255, 100, 100, 100, 255]);
    const blended = paintHeat(heat, lut, new Uint8ClampedArray(8), base, 0.5);
    expect(Array.from(blended)).toEqual([50, 50, 50, 255, 178, 178, 178, 255]);
  });
});

describe("mosaic", () => {
  const labels = [0, 0, 0, 1, 1, 1, 1];
  const a = [0, 1, 1, 1, 1, 0, 0];
  const b = [0, 0, 1, 1, 1, 1, 0];
  it("counts confusions", () => {
    const c = confusionCounts(labels, a, 2);
    expect(Array.from(c[0])).toEqual([1, 2]);
    expect(Array.from(c[1])).toEqual([2, 2]);
  });
  it("sizes columns by class and cells by b's counts, marking gains and losses", () => {
    const cells = mosaicCells(confusionCounts(labels, a, 2), confusionCounts(labels, b, 2), 100, 50, 0, 3);
    const col0 = cells.filter((c) => c.t === 0), col1 = cells.filter((c) => c.t === 1);
    expect(col0[0].w / col1[0].w).toBeCloseTo(3 / 4);
    expect(col0[0].p).toBe(0); // the diagonal first
    const diag0 = col0.find((c) => c.p === 0), off0 = col0.find((c) => c.p === 1);
    expect([diag0.a, diag0.b, diag0.good]).toEqual([1, 2, 1]); // one more right: better
    expect([off0.a, off0.b, off0.good]).toEqual([2, 1, 1]); // one fewer wrong: better
    expect(diag0.h / off0.h).toBeCloseTo(2);
    expect(changeColor(1, 1, true)).toBe("rgb(214,39,40)");
    expect(changeColor(-1, 1, false)).toBe("rgb(31,119,180)");
  });
});

describe("trace", () => {
  // 3 images x 2 versions: wrong->right, right->wrong, right->right
  const correct = new Uint8Array([0, 1, 1, 0, 1, 1]);
  it("names changes like the engine", () => {
    expect([0, 1, 2].map((m) => changeOf(correct, m, 2))).toEqual(["became right", "became wrong", "always right"]);
    expect(changeOf(new Uint8Array([0, 1, 0]), 0, 3)).toBe("mixed");
  });
  it("puts correct points in the upper band and counts coloured segments", () => {
    const t = traceLayout(correct, 2, () => true, 400, 200);
    expect(t.segments).toEqual({ red: 1, blue: 1, grey: 1 });
    const y = (k, v) => t.points[(k * 2 + v) * 2 + 1];
    expect(y(0, 0)).toBeGreaterThan(100); // image 0 wrong under v1: lower band
    expect(y(0, 1)).toBeLessThan(100); // right under v2: upper band
    const only = traceLayout(correct, 2, (i) => i === 1, 400, 200);
    expect(Array.from(only.shown)).toEqual([1]);
    expect(only.segments).toEqual({ red: 0, blue: 1, grey: 0 });
  });
});
