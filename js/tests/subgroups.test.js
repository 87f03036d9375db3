import { describe, expect, it } from "vitest";
import { sequential } from "../lib/colors.js";
import { countColor, cssRgb, inkOn, pct } from "../lib/subgroup-format.js";

const lum = (rgb) => {
  const lin = rgb.map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
};
const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);

describe("subgroup format", () => {
  it("writes shares as percentages", () => {
    expect(pct(0.1234)).toBe("12.3 %");
    expect(pct(0)).toBe("0.0 %");
    expect(pct(1)).toBe("100.0 %");
  });
  it("puts counts on one scale from 1 to the max", () => {
    expect(countColor(1, 7)).toEqual(sequential(0));
    expect(countColor(7, 7)).toEqual(sequential(1));
    expect(countColor(4, 7)).toEqual(sequential(0.5));
    expect(countColor(1, 1)).toEqual(sequential(1)); // a lone count takes the top colour
  });
  it("writes cell text that reads at WCAG AA on every colour of the scale", () => {
    for (let t = 0; t <= 1.0001; t += 0.05) {
      const bg = sequential(t);
      const ink = inkOn(bg) === "rgb(0,0,0)" ? [0, 0, 0] : [1, 1, 1];
      expect(ratio(bg, ink)).toBeGreaterThanOrEqual(4.5);
    }
    expect(inkOn([1, 1, 0])).toBe("rgb(0,0,0)");
    expect(inkOn([0.2, 0, 0.3])).toBe("rgb(255,255,255)");
  });
  it("formats CSS colours", () => {
    expect(cssRgb([1, 0.5, 0])).toBe("rgb(255,128,0)");
  });
});
