import { describe, expect, it } from "vitest";
import { effectWidth, pText } from "../report.js";

describe("audit report view text", () => {
  it("states p against the finding's threshold, the comparison following significance", () => {
    expect(pText({ p_value: 3.1e-6, alpha: 0.0014, significant: true })).toBe("p = 3.1e-6 < 0.0014");
    expect(pText({ p_value: 0.25, alpha: 0.0025, significant: false })).toBe("p = 0.25 ≥ 0.0025");
    expect(pText({ p_value: null, alpha: 0.01, significant: false })).toBe("p = n/a ≥ 0.010");
  });
  it("draws an effect as its points over a 0-100 track, clipped at both ends", () => {
    expect(effectWidth(0.42)).toBeCloseTo(42);
    expect(effectWidth(-0.05)).toBe(0);
    expect(effectWidth(1.5)).toBe(100);
    expect(effectWidth(null)).toBe(0);
  });
});
