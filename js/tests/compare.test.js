import { describe, expect, it } from "vitest";
import { changeColor, mixRgb, selectedRows, selectionCells, themeRgb } from "../lib/mosaic-layout.js";

const lum = (s) => {
  const [r, g, b] = /rgb\((\d+),(\d+),(\d+)\)/.exec(s).slice(1).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
};

describe("mosaic colours follow the theme", () => {
  const light = { bg: [255, 255, 255], fg: [0, 0, 0] };
  const dark = { bg: [17, 17, 17], fg: [255, 255, 255] };
  it("starts the scale from the theme's background", () => {
    expect(changeColor(1, 1, true, dark)).toBe("rgb(214,39,40)"); // full change: the data colour
    expect(lum(changeColor(1, 10, false, dark))).toBeLessThan(0.3); // faint change: dark in dark
    expect(lum(changeColor(1, 10, false, light))).toBeGreaterThan(0.7);
  });
  it("keeps neutral cells near the background, the diagonal a step further", () => {
    for (const t of [light, dark]) {
      const off = lum(changeColor(0, 5, false, t)), diag = lum(changeColor(0, 5, true, t));
      const bg = lum(`rgb(${t.bg.join(",")})`);
      expect(Math.abs(off - bg)).toBeLessThan(0.15);
      expect(Math.abs(diag - bg)).toBeGreaterThan(Math.abs(off - bg));
    }
    expect(lum(changeColor(0, 5, false, dark))).toBeLessThan(0.25); // not the old light grey
    expect(changeColor(0, 5, false)).toBe("rgb(232,232,232)"); // without a theme: as before
  });
  it("mixes colours and reads theme tokens", () => {
    expect(mixRgb([0, 0, 0], [255, 255, 255], 0.5)).toEqual([128, 128, 128]);
    expect(themeRgb({ bg: "#111111", fg: "rgba(255, 255, 255, 0.87)" })).toEqual({ bg: [17, 17, 17], fg: [255, 255, 255] });
  });
});

describe("selection on mosaic cells", () => {
  // 5 images (dataset indices 10..14): true 0,0,0,1,1; b predicts 0,0,1,1,0
  const index = [10, 11, 12, 13, 14], labels = [0, 0, 0, 1, 1], predB = [0, 0, 1, 1, 0];
  it("outlines cells only while the selection is exactly their images", () => {
    expect(selectionCells([10, 11], index, labels, predB).outlined).toEqual(["0,0"]);
    expect(selectionCells([10, 11, 13], index, labels, predB).outlined).toEqual(["0,0", "1,1"]);
    const part = selectionCells([10, 13], index, labels, predB); // half of cell 0,0
    expect(part.exact).toBe(false);
    expect(part.outlined).toEqual([]);
    expect(Object.fromEntries(part.counts)).toEqual({ "0,0": 1, "1,1": 1 });
    const out = selectionCells([10, 11, 99], index, labels, predB); // an image the mosaic lacks
    expect([out.exact, out.outside]).toEqual([false, 1]);
    expect(selectionCells([], index, labels, predB).exact).toBe(false);
  });
  it("marks the trace's selected rows", () => {
    expect(Array.from(selectedRows(index, [14, 10, 7]))).toEqual([1, 0, 0, 0, 1]);
  });
});
