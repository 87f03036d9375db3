// Pure helpers of the SubgroupPanel (unit-tested in js/tests/subgroups.test.js).

import { sequential } from "./colors.js";

/** A share in [0, 1] as a percentage with one decimal: 0.1234 -> "12.3 %". */
export function pct(x) {
  return `${(100 * x).toFixed(1)} %`;
}

/**
 * Black or white, whichever contrasts more with the data colour [r, g, b] (0..1) of a matrix
 * cell (the crossover luminance 0.179 gives at least 4.58:1 either way).
 */
export function inkOn(rgb) {
  const lin = rgb.map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return lum > 0.179 ? "rgb(0,0,0)" : "rgb(255,255,255)";
}

/** [r, g, b] (0..1) of a count > 0 on the matrices' shared scale: 1 -> t = 0, max -> t = 1. */
export function countColor(count, max) {
  return sequential(max > 1 ? (count - 1) / (max - 1) : 1);
}

/** CSS "rgb(r,g,b)" of [r, g, b] in 0..1. */
export function cssRgb(rgb) {
  return `rgb(${rgb.map((v) => Math.round(255 * v)).join(",")})`;
}
