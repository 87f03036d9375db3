import { describe, expect, it } from "vitest";
import { boxStyle, formatValue, scoreLabel } from "../lib/concept-format.js";

describe("concept window format", () => {
  it("formats scores and activations with digits that fit their size", () => {
    expect(formatValue(0.625)).toBe("0.63");
    expect(formatValue(12.345)).toBe("12.3");
    expect(formatValue(1234.5)).toBe("1235");
    expect(formatValue(null)).toBe("–");
    expect(formatValue(NaN)).toBe("–");
  });
  it("names a score's subgroup, its kind, accuracy and size", () => {
    expect(scoreLabel({ subgroup: 3, under: true, accuracy: 0.404, size: 25 })).toBe(
      "under-performing subgroup #3 (accuracy 40%, 25 images)",
    );
    expect(scoreLabel({ subgroup: 7, under: false, accuracy: 0.9, size: 30 })).toMatch(/^well-performing subgroup #7/);
  });
  it("places a box given as cell fractions", () => {
    expect(boxStyle([0.25, 0.5, 0.375, 0.75])).toEqual({ top: "25.000%", left: "50.000%", height: "12.500%", width: "25.000%" });
  });
});
