import { describe, expect, it } from "vitest";
import { bind, disposer } from "../lib/dom.js";
import { pointColors } from "../projection/colors.js";
import { contourSegments } from "../projection/contours.js";
import { loadData, loadStats, quantile } from "../projection/data.js";
import { pointLines } from "../projection/tooltip.js";

const arr = (Ctor, values, shape, dtype) => ({ dtype, shape, buffer: new DataView(Ctor.from(values).buffer) });

function fakeModel(n = 3, extra = {}) {
  const traits = {
    xy: arr(Float32Array, Array.from({ length: 2 * n }, (_, k) => k), [n, 2], "float32"),
    label: arr(Uint16Array, Array(n).fill(1), [n], "uint16"),
    pred: arr(Uint16Array, Array(n).fill(1), [n], "uint16"),
    correct: arr(Uint8Array, Array.from({ length: n }, (_, i) => i % 2), [n], "uint8"),
    split_code: arr(Uint8Array, Array(n).fill(0), [n], "uint8"),
    aligned: arr(Uint8Array, [], [0], "uint8"),
    loss: arr(Float32Array, Array(n).fill(0.5), [n], "float32"),
    confidence: arr(Float32Array, Array(n).fill(0.9), [n], "float32"),
    density: arr(Float32Array, [], [3, 0, 0], "float32"),
    density_box: [],
    ...extra,
  };
  const handlers = {};
  return {
    get: (k) => traits[k],
    on: (e, f) => ((handlers[e] ||= new Set()).add(f)),
    off: (e, f) => handlers[e]?.delete(f),
    handlers,
  };
}

describe("bind / disposer", () => {
  it("registers DOM listeners and removes them", () => {
    const target = new EventTarget();
    let hits = 0;
    const unbind = bind(target, { ping: () => hits++ });
    target.dispatchEvent(new Event("ping"));
    unbind();
    target.dispatchEvent(new Event("ping"));
    expect(hits).toBe(1);
  });
  it("registers model handlers and a disposer releases everything once", () => {
    const model = fakeModel();
    const target = new EventTarget();
    const scope = disposer();
    let hits = 0, cleaned = 0;
    scope.bind(model, { "change:xy": () => {} });
    scope.bind(target, { ping: () => hits++ }, { passive: true });
    scope.add(() => cleaned++);
    expect(model.handlers["change:xy"].size).toBe(1);
    scope.dispose();
    scope.dispose();
    target.dispatchEvent(new Event("ping"));
    expect(model.handlers["change:xy"].size).toBe(0);
    expect(hits).toBe(0);
    expect(cleaned).toBe(1);
  });
});

describe("projection data and colours", () => {
  it("decodes the per-point arrays and splits xy", () => {
    const d = loadData(fakeModel(3));
    expect(d.n).toBe(3);
    expect(Array.from(d.xs)).toEqual([0, 2, 4]);
    expect(Array.from(d.ys)).toEqual([1, 3, 5]);
    expect(d.aligned).toBeNull();
  });
  it("refuses a per-point array whose length is not the number of points", () => {
    const m = fakeModel(3, { loss: arr(Float32Array, [1, 2], [2], "float32") });
    expect(() => loadData(m)).toThrow(/loss: expected 3 values \(one per point\) or none yet, got 2/);
    const label = fakeModel(3, { label: arr(Uint8Array, [1, 2], [2], "uint8") });
    expect(() => loadData(label)).toThrow(/label: expected shape \[3\], got \[2\]/);
    const wrongType = fakeModel(3, { pred: arr(Int32Array, [1, 2, 3], [3], "int32") });
    expect(() => loadData(wrongType)).toThrow(/pred: expected uint16 \[3\], got dtype int32/);
  });
  it("decodes uint8 class codes (<= 256 classes) exactly as uint16 ones", () => {
    const codes = [0, 7, 255];
    const wide = loadData(fakeModel(3, { label: arr(Uint16Array, codes, [3], "uint16"), pred: arr(Uint16Array, [255, 0, 7], [3], "uint16") }));
    const narrow = loadData(fakeModel(3, { label: arr(Uint8Array, codes, [3], "uint8"), pred: arr(Uint8Array, [255, 0, 7], [3], "uint8") }));
    expect(narrow.label).toBeInstanceOf(Uint8Array);
    expect(Array.from(narrow.label)).toEqual(Array.from(wide.label));
    expect(Array.from(narrow.pred)).toEqual(Array.from(wide.pred));
    const opts = { mode: "predicted", selected: new Uint8Array(3), anySelected: false, visibleSplit: [true, true, true] };
    expect(Array.from(pointColors(narrow, opts).fill)).toEqual(Array.from(pointColors(wide, opts).fill));
    expect(pointLines(narrow, Array.from({ length: 256 }, (_, k) => `c${k}`), 0)).toEqual(pointLines(wide, Array.from({ length: 256 }, (_, k) => `c${k}`), 0));
  });
  it("draws and describes the points before loss and confidence arrive (they follow the first frame)", () => {
    const empty = arr(Float32Array, [], [0], "float32");
    const m = fakeModel(2, { loss: empty, confidence: empty });
    const d = loadData(m);
    expect([d.loss.length, d.confidence.length]).toEqual([0, 0]);
    const lines = pointLines(d, ["a", "b"], 1);
    expect(lines.join(" ")).not.toMatch(/NaN|undefined|loss/);
    expect(lines[3]).toBe("correct");
    const byLoss = pointColors(d, { mode: "loss", selected: new Uint8Array(2), anySelected: false, visibleSplit: [true, true, true] });
    expect(Array.from(byLoss.fill.slice(0, 3))).toEqual([153, 153, 153]); // grey until they come
    const later = fakeModel(2, { loss: arr(Float32Array, [0.25, 2], [2], "float32") });
    expect(Array.from(loadStats(later, 2).loss)).toEqual([0.25, 2]);
    expect(pointLines({ ...d, ...loadStats(later, 2) }, ["a", "b"], 0)[3]).toBe("loss: 0.250 · wrong");
  });
  it("hides points of hidden splits, fades unselected ones, rings only wrong ones", () => {
    const d = loadData(fakeModel(3));
    const selected = Uint8Array.from([1, 0, 0]);
    const { fill, stroke } = pointColors(d, { mode: "class", selected, anySelected: true, visibleSplit: [true, true, true] });
    expect([fill[3], fill[7]]).toEqual([230, 60]);
    expect([stroke[3], stroke[7]]).toEqual([255, 0]); // point 0 wrong (correct=0), point 1 right
    const hidden = pointColors(d, { mode: "class", selected, anySelected: false, visibleSplit: [false, true, true] });
    expect(hidden.fill[3]).toBe(0);
  });
  it("quantile of an empty array is 1", () => {
    expect(quantile(new Float32Array(0), 0.9)).toBe(1);
    expect(quantile(Float32Array.from([1, 2, 3, 4]), 0.5)).toBe(3);
  });
  it("contours come from the density grids inside the box", () => {
    const g = 5;
    const grid = new Float32Array(3 * g * g);
    grid[2 * g + 2] = 1; // one peak in the middle of split 0
    const m = fakeModel(3, { density: { dtype: "float32", shape: [3, g, g], buffer: new DataView(grid.buffer) }, density_box: [0, 10, 0, 10] });
    const segs = contourSegments(m);
    expect(segs.length).toBe(3);
    expect(segs[0].length).toBeGreaterThan(0);
    expect(segs[1].length).toBe(0);
    for (const v of segs[0]) expect(v).toBeGreaterThanOrEqual(0), expect(v).toBeLessThanOrEqual(10);
  });
  it("tooltip lines are plain strings with the class names", () => {
    const d = loadData(fakeModel(3));
    const lines = pointLines(d, ["a", "<b>"], 0);
    expect(lines[1]).toBe("label: <b>");
    expect(lines[3]).toContain("wrong");
  });
});
