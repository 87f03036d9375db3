// Selection geometry: lasso / box hit tests and how a new selection combines with the old one;
// and the one reader and writer of the `selection` trait's binary form (readSelection, writeSelection).

import { typed } from "./binary.js";

/** True when (x, y) lies inside the polygon [[x0,y0], [x1,y1], ...] (even-odd rule). */
export function pointInPolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** [x0, x1, y0, y1]: the bounding box of a polygon [[x, y], ...]. */
export function polygonBounds(polygon) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of polygon) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, x1, y0, y1];
}

/**
 * Indices of points inside a polygon given in the same space as xs/ys.
 * `visible(i)` filters hidden points (e.g. a split that is toggled off).
 * @returns {number[]} ascending indices
 */
export function selectInPolygon(xs, ys, polygon, visible = () => true) {
  if (polygon.length < 3) return [];
  const [minX, maxX, minY, maxY] = polygonBounds(polygon);
  const out = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (x < minX || x > maxX || y < minY || y > maxY) continue;
    if (visible(i) && pointInPolygon(x, y, polygon)) out.push(i);
  }
  return out;
}

/** Indices of points inside the axis-aligned box spanned by two corners. */
export function selectInBox(xs, ys, [x0, y0], [x1, y1], visible = () => true) {
  const lx = Math.min(x0, x1), hx = Math.max(x0, x1);
  const ly = Math.min(y0, y1), hy = Math.max(y0, y1);
  const out = [];
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] >= lx && xs[i] <= hx && ys[i] >= ly && ys[i] <= hy && visible(i)) out.push(i);
  }
  return out;
}

/**
 * Combine a previous selection with a new hit set.
 * mode "replace" (plain drag), "add" (shift), "remove" (alt). Returns ascending unique indices
 * (`hits` itself when it ascends and mode is "replace"). Linear merges of sorted arrays: a shift-lasso that adds 10^6 points stays cheap.
 */
export function combine(previous, hits, mode) {
  if (mode !== "replace" && mode !== "add" && mode !== "remove") throw new Error(`unknown selection mode ${mode}`);
  const h = ascendingUnique(hits);
  if (mode === "replace") return h;
  const p = ascendingUnique(previous);
  const out = [];
  let a = 0, b = 0;
  if (mode === "add") {
    while (a < p.length || b < h.length) {
      if (b >= h.length || (a < p.length && p[a] < h[b])) out.push(p[a++]);
      else if (a >= p.length || h[b] < p[a]) out.push(h[b++]);
      else (out.push(p[a++]), b++);
    }
  } else {
    for (; a < p.length; a++) {
      while (b < h.length && h[b] < p[a]) b++;
      if (b >= h.length || h[b] !== p[a]) out.push(p[a]);
    }
  }
  return out;
}

/** True when `xs` ascends strictly (no repeats). */
function isAscending(xs) {
  for (let k = 1; k < xs.length; k++) if (!(xs[k] > xs[k - 1])) return false;
  return true;
}

/** `xs` (Array or typed array of indices) ascending without repeats: itself when it is already. */
function ascendingUnique(xs) {
  // the hit tests and decoded selections ascend already: skip the sort
  return isAscending(xs) ? xs : Array.from(new Set(xs)).sort((a, b) => a - b);
}

/** A Uint32Array ascending without repeats (decode_selection's sorted_unique): itself when it is. */
function ascendingUint32(xs) {
  const sorted = ascendingUnique(xs);
  return sorted === xs ? xs : Uint32Array.from(sorted);
}

// ---------------------------------------------------------------- the selection trait on the wire
// A view's `selection` trait is one binary buffer (dashwidgets/widgets/_codec.py, encode_selection):
//   {encoding: "indices", dtype: "uint32", shape: [k], count: k, buffer}: the ascending indices, or
//   {encoding: "bitmask", dtype: "uint8", shape: [m], count: k, buffer}: bit i & 7 of byte i >> 3
//   is set when image i is selected (m = largest index >> 3, plus 1),
// whichever is smaller, by the same rule as the kernel, so jslink copies one object between
// views and the kernel never has to send a value back. readSelection / writeSelection are the
// only code that touches it; views see a Uint32Array of ascending indices.

/** The encoding the kernel picks for `count` indices whose largest is `top` (selection_encoding). */
export function selectionEncoding(count, top) {
  return count && Math.floor(top / 8) + 1 < 4 * count ? "bitmask" : "indices";
}

/**
 * The wire object of ascending unique indices (Array or typed array).
 * @returns {{encoding: string, dtype: string, shape: number[], count: number, buffer: DataView}}
 *   the buffer views a whole ArrayBuffer of its own (what ipywidgets sends is `buffer.buffer`).
 */
export function encodeSelection(indices) {
  const count = indices.length;
  const top = count ? indices[count - 1] : 0;
  if (count && !(Number.isInteger(indices[0]) && indices[0] >= 0 && Number.isInteger(top) && top <= 0xffffffff && isAscending(indices))) {
    throw new Error(`selection: expected ascending unique indices in [0, 2^32), got ${Array.from(indices.slice(0, 5)).join(", ")}${count > 5 ? ", ..." : ""}`);
  }
  if (selectionEncoding(count, top) === "bitmask") {
    const bytes = new Uint8Array(Math.floor(top / 8) + 1);
    for (let k = 0; k < count; k++) {
      const i = indices[k];
      bytes[i >>> 3] |= 1 << (i & 7);
    }
    return { encoding: "bitmask", dtype: "uint8", shape: [bytes.length], count, buffer: new DataView(bytes.buffer) };
  }
  const arr = Uint32Array.from(indices);
  return { encoding: "indices", dtype: "uint32", shape: [count], count, buffer: new DataView(arr.buffer) };
}

const decoded = new WeakMap(); // wire object -> Uint32Array: every view reads the same value once

/**
 * Ascending indices of a wire selection (either encoding; a plain Array from an older saved
 * state too). Throws an Error naming what is malformed.
 * @returns {Uint32Array}
 */
export function decodeSelection(value) {
  if (value == null) return new Uint32Array(0);
  if (Array.isArray(value)) return ascendingUint32(Uint32Array.from(value));
  if (typeof value !== "object" || !("buffer" in value)) {
    throw new Error(`selection: expected {encoding, dtype, shape, count, buffer}, got ${typeof value}`);
  }
  const hit = decoded.get(value);
  if (hit) return hit;
  let out;
  if (value.encoding === "bitmask") {
    const bytes = typed(value.buffer, "uint8");
    let count = 0;
    for (let b = 0; b < bytes.length; b++) for (let v = bytes[b]; v; v &= v - 1) count++;
    out = new Uint32Array(count);
    for (let b = 0, k = 0; b < bytes.length; b++) {
      const v = bytes[b];
      if (!v) continue;
      for (let j = 0; j < 8; j++) if (v & (1 << j)) out[k++] = b * 8 + j;
    }
  } else if ((value.encoding ?? "indices") === "indices" && (value.dtype ?? "uint32") === "uint32") {
    out = ascendingUint32(typed(value.buffer, "uint32")); // a saved state may hold them in any order, as in Python
  } else {
    throw new Error(`selection: unknown encoding ${value.encoding} / dtype ${value.dtype}; expected indices (uint32) or bitmask (uint8)`);
  }
  decoded.set(value, out);
  return out;
}

/** The model's selection: a Uint32Array of ascending image indices (do not modify it). */
export function readSelection(model) {
  return decodeSelection(model.get("selection"));
}

/** How many images are selected, without decoding the buffer. */
export function selectionCount(model) {
  const value = model.get("selection");
  if (value && typeof value === "object" && !Array.isArray(value) && Number.isInteger(value.count)) return value.count;
  return readSelection(model).length;
}

/**
 * Set the model's selection to `indices` (any order, repeats allowed; Array or typed array) as
 * one binary buffer. The caller saves (model.save_changes()), as for any other trait.
 */
export function writeSelection(model, indices) {
  const sorted = ascendingUnique(indices);
  const value = encodeSelection(sorted);
  if (value.encoding === "bitmask") decoded.set(value, Uint32Array.from(sorted)); // spare its decoding
  model.set("selection", value);
}

/** The selection mode a pointer event asks for: alt removes, shift adds, otherwise replace. */
export function modeFromEvent(event) {
  if (event.altKey) return "remove";
  if (event.shiftKey) return "add";
  return "replace";
}
