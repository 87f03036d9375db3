import { describe, expect, it } from "vitest";
import { formatShare, oddsText } from "../criticism.js";

describe("criticism view text", () => {
  it("shows shares as percentages and empty sets as a dash", () => {
    expect(formatShare(0.256)).toBe("26%");
    expect(formatShare(1)).toBe("100%");
    expect(formatShare(null)).toBe("–");
  });
  it("states the odds ratio and Fisher p, infinite and undefined ones too", () => {
    expect(oddsText({ odds_ratio: 2.3456, p_value: 0.01234 })).toBe("odds ratio 2.35, p = 0.012");
    expect(oddsText({ odds_ratio: 1e308, p_value: 0.00001 })).toBe("odds ratio ∞, p = 1.0e-5");
    expect(oddsText({ odds_ratio: null, p_value: null })).toBe("odds ratio: n/a (an empty set)");
  });
});
