import { describe, expect, it } from "vitest";
import { boardSeries, chartScales, epochTicks, hparamsTable, niceTicks, pathData, tickDecimals, toCsv, versionColor } from "../lib/chart.js";
import { CATEGORICAL } from "../lib/colors.js";

describe("chart ticks", () => {
  it("cuts a loss range into 4-7 nice ticks that cover it", () => {
    for (const [lo, hi] of [[0, 1.1], [0, 2.31], [0.05, 0.37], [62.5, 97.3], [0, 0.004]]) {
      const t = niceTicks(lo, hi, 5);
      expect(t.ticks.length).toBeGreaterThanOrEqual(4);
      expect(t.ticks.length).toBeLessThanOrEqual(7);
      expect(t.ticks[0]).toBeLessThanOrEqual(lo);
      expect(t.ticks[t.ticks.length - 1]).toBeGreaterThanOrEqual(hi);
      const m = t.step / 10 ** Math.floor(Math.log10(t.step));
      expect([1, 2, 2.5, 5, 10].some((k) => Math.abs(m - k) < 1e-9)).toBe(true);
    }
    expect(niceTicks(0, 1.1, 5).ticks).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
  });
  it("widens a flat or empty range instead of dividing by zero", () => {
    expect(niceTicks(0, 0).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = niceTicks(0.5, 0.5);
    expect(t.lo).toBeLessThan(0.5);
    expect(t.hi).toBeGreaterThan(0.5);
  });
  it("gives integer epoch ticks from 0, thinned for long runs", () => {
    expect(epochTicks(3).ticks).toEqual([0, 1, 2, 3]);
    expect(epochTicks(2.4).ticks).toEqual([0, 1, 2, 3]);
    const long = epochTicks(60);
    expect(long.ticks.length).toBeLessThanOrEqual(8);
    expect(long.ticks.every(Number.isInteger)).toBe(true);
    expect(long.hi).toBeGreaterThanOrEqual(60);
  });
  it("prints as many decimals as the step needs", () => {
    expect(tickDecimals(0.25)).toBe(2);
    expect(tickDecimals(0.5)).toBe(1);
    expect(tickDecimals(10)).toBe(0);
  });
});

describe("chart scales and points", () => {
  const series = [{ points: [[1, 2], [2, 1], [3, 0.5]] }, { points: [[0.5, 2.2]] }];
  it("maps epochs left to right and higher values higher up, inside the plot box", () => {
    const s = chartScales(series, 300, 200, { yFloor: 0 });
    expect(s.x(0)).toBe(s.box.x0);
    expect(s.x(s.xTicks.hi)).toBe(s.box.x1);
    expect(s.x(1)).toBeLessThan(s.x(2));
    expect(s.y(2)).toBeLessThan(s.y(1));
    expect(s.yTicks.ticks[0]).toBe(0); // losses start at 0
    for (const [e, v] of series.flatMap((q) => q.points)) {
      expect(s.x(e)).toBeGreaterThanOrEqual(s.box.x0);
      expect(s.x(e)).toBeLessThanOrEqual(s.box.x1);
      expect(s.y(v)).toBeGreaterThanOrEqual(s.box.y1);
      expect(s.y(v)).toBeLessThanOrEqual(s.box.y0);
    }
  });
  it("caps accuracy at 100 % and copes with no data", () => {
    const s = chartScales([{ points: [[1, 93], [2, 99.5]] }], 300, 200, { yCeil: 100 });
    expect(s.yTicks.ticks[s.yTicks.ticks.length - 1]).toBe(100);
    const empty = chartScales([], 300, 200, {});
    expect(Number.isFinite(empty.x(1)) && Number.isFinite(empty.y(0.5))).toBe(true);
  });
  it("writes path data through finite points only", () => {
    expect(pathData([[1, 2], [NaN, 3], [4, 5]])).toBe("M1.0 2.0 L4.0 5.0");
  });
});

describe("board series", () => {
  const rows = [
    { id: "v1", history: [{ epoch: 1, train_loss: 1.2, val_loss: 1.0, val_accuracy: 0.6 }, { epoch: 2, train_loss: 0.8, val_loss: 0.9, val_accuracy: 0.7 }] },
    { id: "v3", history: [{ epoch: 1, train_loss: 0.7, val_loss: null, val_accuracy: null }] },
  ];
  it("gives every version a train (solid) and val (dashed) curve in its own colour", () => {
    const { loss, accuracy } = boardSeries(rows, null);
    expect(loss.map((s) => s.key)).toEqual(["v1-train", "v1-val", "v3-train"]); // v3 has no val loss
    expect(loss.find((s) => s.key === "v1-train").dash).toBe(false);
    expect(loss.find((s) => s.key === "v1-val").dash).toBe(true);
    expect(loss.find((s) => s.key === "v1-val").points).toEqual([[1, 1.0], [2, 0.9]]);
    expect(accuracy.map((s) => s.key)).toEqual(["v1-val-acc"]);
    expect(accuracy[0].points[1][1]).toBeCloseTo(70); // percent
    expect(loss[0].color).toBe(CATEGORICAL[0]);
    expect(loss[2].color).toBe(CATEGORICAL[2]); // v3's colour stays v3's after v2 was discarded
    expect(versionColor("v2")).toBe(CATEGORICAL[1]);
  });
  it("adds the live run's batch points at fractional epochs and hides toggled curves", () => {
    const live = { label: "live run", train: [0.9], val: [0.95], valAcc: [0.5], batch: [[0.25, 1.4], [0.5, 1.1], [1, 0.9], [1.5, 0.8]] };
    const { loss, accuracy } = boardSeries(rows, live, new Set(["v1"]), "#111");
    expect(loss.map((s) => s.version)).not.toContain("v1");
    const batch = loss.find((s) => s.key === "live-batch");
    expect(batch.points.map((p) => p[0])).toEqual([0.25, 0.5, 1, 1.5]);
    expect(batch.color).toBe("#111");
    expect(accuracy.find((s) => s.key === "live-val-acc").points).toEqual([[1, 50]]);
    const none = boardSeries(rows, live, new Set(["live"]));
    expect(none.loss.some((s) => s.version === "live")).toBe(false);
  });
});

describe("hyper-parameter CSV", () => {
  it("has one column per hyper-parameter and quotes what needs quoting", () => {
    const versions = [
      { id: "v1", name: "v1", parent: "", hparams: { epochs: 1, lr: 0.001 }, augmentations: [], val_accuracy: 0.5, test_accuracy: null, created: "t1" },
      { id: "v2", name: 'a "b", c', parent: "v1", hparams: { epochs: 2, lr: 0.01, seed: 3 }, augmentations: ["a1", "a2"], val_accuracy: 0.7, test_accuracy: 0.6, created: "t2" },
    ];
    const { header, rows } = hparamsTable(versions);
    expect(header).toEqual(["version", "name", "parent", "epochs", "lr", "seed", "augmentations", "val_accuracy", "test_accuracy", "created"]);
    const csv = toCsv(header, rows);
    const lines = csv.trim().split("\r\n");
    expect(lines[1]).toBe("v1,v1,,1,0.001,,,0.5,,t1");
    expect(lines[2]).toBe('v2,"a ""b"", c",v1,2,0.01,3,a1 a2,0.7,0.6,t2');
  });
});
