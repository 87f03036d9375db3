// Layout and colours of DASH's Mosaic View and Trace View, kept free of the DOM (unit-tested).

import { parseColor } from "./theme.js";

/** C x C confusion counts (row = true, column = predicted) as an array of Int32Array rows. */
export function confusionCounts(labels, pred, nClasses) {
  const rows = Array.from({ length: nClasses }, () => new Int32Array(nClasses));
  for (let i = 0; i < labels.length; i++) rows[labels[i]][pred[i]] += 1;
  return rows;
}

/**
 * Mosaic cells: one column per true class (width ∝ its images), one cell per predicted class
 * under version b (height ∝ count), the diagonal first. A cell that b emptied but a had keeps a
 * sliver (`minH`) so the change stays visible. Each cell: {t, p, x, y, w, h, a, b, good}, with
 * good > 0 when b is better there (more on the diagonal, fewer off it).
 */
export function mosaicCells(countsA, countsB, width, height, gap = 2, minH = 3) {
  const n = countsB.length;
  const colN = countsB.map((row) => row.reduce((s, v) => s + v, 0));
  const total = colN.reduce((s, v) => s + v, 0) || 1;
  const usableW = width - gap * Math.max(0, n - 1);
  const cells = [];
  let x = 0;
  for (let t = 0; t < n; t++) {
    const w = (colN[t] / total) * usableW;
    const order = [t, ...Array.from({ length: n }, (_, p) => p).filter((p) => p !== t)];
    const shown = order.filter((p) => countsB[t][p] > 0 || countsA[t][p] > 0);
    const slivers = shown.filter((p) => countsB[t][p] === 0).length;
    const usableH = Math.max(0, height - gap * Math.max(0, shown.length - 1) - slivers * minH);
    let y = 0;
    for (const p of shown) {
      const b = countsB[t][p], a = countsA[t][p];
      const h = b === 0 ? minH : (b / (colN[t] || 1)) * usableH;
      const delta = b - a;
      cells.push({ t, p, x, y, w, h, a, b, good: t === p ? delta : -delta });
      y += h + gap;
    }
    x += w + gap;
  }
  return cells;
}

/**
 * Fill colour of a mosaic cell: DASH's red for better, blue for worse, a neutral tone when
 * unchanged. `theme` ({bg, fg} as [r, g, b], see `themeRgb`) makes the scale start from the
 * theme's background, so that faint changes and neutral cells read in light and dark themes;
 * without it the scale starts from white.
 */
export function changeColor(good, maxAbs, diagonal, theme = null) {
  const bg = theme ? theme.bg : [255, 255, 255];
  const fg = theme ? theme.fg : [0, 0, 0];
  if (good === 0 || maxAbs === 0) {
    if (!theme) return diagonal ? "rgb(200,200,200)" : "rgb(232,232,232)";
    return rgb(mixRgb(bg, fg, diagonal ? 0.24 : 0.12));
  }
  const s = Math.min(1, Math.abs(good) / maxAbs);
  const k = 0.25 + 0.75 * s;
  const hue = good > 0 ? [214, 39, 40] : [31, 119, 180];
  return rgb(mixRgb(bg, hue, k));
}

/** `a` moved towards `b` by t (0: a, 1: b), rounded [r, g, b]. */
export function mixRgb(a, b, t) {
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * t));
}

function rgb([r, g, b]) {
  return `rgb(${r},${g},${b})`;
}

/**
 * How the shared selection falls on the mosaic's cells (cell of an image: its true class and
 * version b's prediction). `selection` holds dataset indices, `index` the compared images'.
 * Returns {counts: Map "t,p" -> selected images in the cell, outside: selected images the
 * mosaic does not show, exact: the selection is exactly the images of whole cells (true for
 * those cells only, false for an empty selection), outlined: ["t,p", ...] the cells that make
 * an exact selection, sorted}.
 */
export function selectionCells(selection, index, labels, predB) {
  const rowOf = new Map();
  for (let i = 0; i < index.length; i++) rowOf.set(index[i], i);
  const counts = new Map();
  const sizes = new Map();
  for (let i = 0; i < labels.length; i++) {
    const key = `${labels[i]},${predB[i]}`;
    sizes.set(key, (sizes.get(key) || 0) + 1);
  }
  let outside = 0;
  for (const s of selection) {
    const i = rowOf.get(s);
    if (i === undefined) {
      outside += 1;
      continue;
    }
    const key = `${labels[i]},${predB[i]}`;
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  let exact = counts.size > 0 && outside === 0;
  for (const [key, n] of counts) if (n !== sizes.get(key)) exact = false;
  const outlined = exact ? [...counts.keys()].sort() : [];
  return { counts, outside, exact, outlined };
}

/** Change of one image across versions (first vs last, steady or not), as the engine names it. */
export function changeOf(correct, m, nV) {
  const first = correct[m * nV], last = correct[m * nV + nV - 1];
  let steady = true;
  for (let v = 1; v < nV; v++) if (correct[m * nV + v] !== first) steady = false;
  if (steady) return first ? "always right" : "always wrong";
  if (!first && last) return "became right";
  if (first && !last) return "became wrong";
  return "mixed";
}

/**
 * Trace layout: for each shown image and version, a point in the upper (correct) or lower band,
 * ranked by (change, index) inside its band so lines stay mostly parallel. Returns
 * {points: Float32Array [shown, V, 2], shown: Int32Array of row numbers, segments: {red, blue, grey}}.
 */
export function traceLayout(correct, nV, keep, width, height, pad = 16, gapMid = 24) {
  const m = correct.length / nV;
  const shown = [];
  for (let i = 0; i < m; i++) if (keep(i)) shown.push(i);
  const order = ["became right", "became wrong", "mixed", "always wrong", "always right"];
  const key = new Map(shown.map((i) => [i, order.indexOf(changeOf(correct, i, nV))]));
  const sorted = [...shown].sort((a, b) => key.get(a) - key.get(b) || a - b);
  const points = new Float32Array(shown.length * nV * 2);
  const slot = new Map(shown.map((i, k) => [i, k]));
  const bandH = (height - 2 * pad - gapMid) / 2;
  const xs = Array.from({ length: nV }, (_, v) => (nV === 1 ? width / 2 : pad + 40 + (v / (nV - 1)) * (width - 2 * pad - 80)));
  for (let v = 0; v < nV; v++) {
    const up = sorted.filter((i) => correct[i * nV + v]);
    const down = sorted.filter((i) => !correct[i * nV + v]);
    for (const [list, top] of [[up, pad], [down, pad + bandH + gapMid]]) {
      list.forEach((i, r) => {
        const k = slot.get(i);
        points[(k * nV + v) * 2] = xs[v];
        points[(k * nV + v) * 2 + 1] = top + ((r + 0.5) / Math.max(1, list.length)) * bandH;
      });
    }
  }
  const segments = { red: 0, blue: 0, grey: 0 };
  for (const i of shown) {
    for (let v = 0; v + 1 < nV; v++) {
      const a = correct[i * nV + v], b = correct[i * nV + v + 1];
      if (!a && b) segments.red += 1;
      else if (a && !b) segments.blue += 1;
      else segments.grey += 1;
    }
  }
  return { points, shown: Int32Array.from(shown), segments, xs, bandH };
}

/** {bg, fg} of `themeColors()` as [r, g, b] (alpha dropped), for `changeColor` and `mixRgb`. */
export function themeRgb(colors) {
  return { bg: parseColor(colors.bg) || [255, 255, 255], fg: parseColor(colors.fg) || [0, 0, 0] };
}

/** Which images of the trace are in `selection` (dataset indices): Uint8Array [M] of 0/1. */
export function selectedRows(index, selection) {
  const wanted = new Set(selection);
  const out = new Uint8Array(index.length);
  for (let i = 0; i < index.length; i++) if (wanted.has(index[i])) out[i] = 1;
  return out;
}
