import { describe, expect, it } from "vitest";
import { linearQuantile, quantileText, reliabilityTitle, removedPixels, shareTicks } from "../lib/region-format.js";

describe("region view quantile (numpy's linear quantile, as eng.augment thresholds)", () => {
  it("interpolates between the sorted neighbours", () => {
    // sorted [0, 1, 2, 3, 4]: position 4 * 0.7 = 2.8 -> 2 + 0.8 * (3 - 2) = 2.8 (float32)
    expect(linearQuantile(new Float32Array([3, 0, 4, 1, 2]), 0.7)).toBe(Math.fround(2.8));
    expect(linearQuantile(new Float32Array([3, 0, 4, 1, 2]), 0.25)).toBe(1);
    expect(linearQuantile(new Float32Array([5]), 0.5)).toBe(5);
    expect(linearQuantile(new Float32Array([]), 0.5)).toBeNaN();
  });
  it("removes the pixels at or above the threshold: the top 1 - q share", () => {
    const map = new Float32Array(100).map((_, i) => i / 99);
    const { mask, count, threshold } = removedPixels(map, 0.7);
    expect(count).toBe(30);
    expect(mask[69]).toBe(0);
    expect(mask[70]).toBe(1);
    expect(threshold).toBeCloseTo(0.7, 6);
    // ties: a constant map is removed whole (every value equals the quantile)
    expect(removedPixels(new Float32Array(16).fill(0.5), 0.7).count).toBe(16);
  });
  it("says what the quantile removes and titles the diagram with the ECE", () => {
    expect(quantileText(0.7)).toBe("q = 0.70: pixels above the map's 0.70 quantile (top 30 %)");
    expect(reliabilityTitle("val", 20, 0.01947)).toBe("Reliability on val (20 bins) · ECE 0.019");
    expect(reliabilityTitle("val", 20, null)).toBe("Reliability on val (20 bins) · ECE n/a");
  });
  it("rounds the share axis up from its largest bar", () => {
    expect(shareTicks(1)).toEqual([0, 0.5, 1]);
    expect(shareTicks(0.33)).toEqual([0, 0.2, 0.4]);
    expect(shareTicks(0.04)).toEqual([0, 0.025, 0.05]);
    expect(shareTicks(0)).toEqual([0, 0.5, 1]);
  });
});
