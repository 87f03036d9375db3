import { describe, expect, it } from "vitest";
import { lutColor } from "../lib/colorbar.js";
import { colormapLut } from "../lib/colors.js";

describe("colour bar", () => {
  it("reads a lookup table from its first to its last entry, clamped", () => {
    const lut = colormapLut("gray");
    const at = lutColor(lut);
    expect(at(0)).toBe("rgb(0,0,0)");
    expect(at(1)).toBe("rgb(255,255,255)");
    expect(at(-3)).toBe("rgb(0,0,0)");
    expect(at(7)).toBe("rgb(255,255,255)");
    expect(at(0.5)).toBe("rgb(128,128,128)");
  });
});
