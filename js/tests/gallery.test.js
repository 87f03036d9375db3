import { describe, expect, it } from "vitest";
import { heatLevels, showingText } from "../lib/gallery-format.js";

describe("gallery format", () => {
  it("says how many of how many are shown", () => {
    expect(showingText(3, 12)).toBe("showing 3 of 12");
    expect(showingText(0, 0)).toBe("showing 0 of 0");
    expect(showingText(1234, 100000)).toBe("showing 1,234 of 100,000");
  });
  it("maps heat linearly from its range to 0..255", () => {
    expect(Array.from(heatLevels(new Float32Array([0, 0.5, 1]), 0, 1))).toEqual([0, 128, 255]);
    expect(Array.from(heatLevels(new Float32Array([-2, 0, 2]), -2, 2))).toEqual([0, 128, 255]);
    expect(Array.from(heatLevels(new Float32Array([5, 9]), 0, 4))).toEqual([255, 255]);
  });
  it("gives a constant or broken map level 0", () => {
    expect(Array.from(heatLevels(new Float32Array([3, 3]), 3, 3))).toEqual([0, 0]);
    expect(Array.from(heatLevels(new Float32Array([NaN, 1]), 0, 1))).toEqual([0, 255]);
  });
});
