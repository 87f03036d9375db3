// The projection's per-point arrays, decoded from the model by the typed-array codec.

import { getArray } from "../lib/binary.js";

export const SPLIT_NAMES = ["train", "val", "test"];

/** A class-code trait: uint8 when the kernel found <= 256 classes (half the bytes), else uint16. */
function classCodes(model, name, n) {
  const value = model.get(name);
  return getArray(model, name, value && value.dtype === "uint8" ? "uint8" : "uint16", [n]).data;
}

/**
 * The per-image statistics (loss, confidence): [n] each, or empty while they have not arrived
 * (the kernel sends them after the cell that showed the view, so they do not delay its first frame).
 */
export function loadStats(model, n) {
  const stat = (name) => {
    const a = getArray(model, name, "float32", [null]).data;
    if (a.length !== n && a.length !== 0) throw new Error(`${name}: expected ${n} values (one per point) or none yet, got ${a.length}`);
    return a;
  };
  return { loss: stat("loss"), confidence: stat("confidence") };
}

/** Decode every per-point trait; each must have the length of `xy` (the decoder refuses others;
 * loss and confidence may be empty until they arrive). */
export function loadData(model) {
  const xy = getArray(model, "xy", "float32", [null, 2]).data;
  const n = xy.length / 2;
  const xs = new Float32Array(n), ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = xy[2 * i];
    ys[i] = xy[2 * i + 1];
  }
  const aligned = getArray(model, "aligned", "uint8", [null]).data; // [n], or [0] when unknown
  return {
    n,
    xy,
    xs,
    ys,
    label: classCodes(model, "label", n),
    pred: classCodes(model, "pred", n),
    correct: getArray(model, "correct", "uint8", [n]).data,
    split: getArray(model, "split_code", "uint8", [n]).data,
    aligned: aligned.length === n ? aligned : null,
    ...loadStats(model, n),
  };
}

/** An empty data set (shown while a malformed update is reported). */
export function emptyData() {
  const f = new Float32Array(0), u = new Uint8Array(0);
  return { n: 0, xy: f, xs: f, ys: f, label: new Uint16Array(0), pred: new Uint16Array(0), correct: u, split: u, aligned: null, loss: f, confidence: f };
}

/** The q-quantile of `values` (1 when empty or zero). */
export function quantile(values, q) {
  if (!values.length) return 1;
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] || 1;
}

/** Selected images per split: [train, val, test] counts of the indices in `selection`. */
export function countBySplit(split, selection) {
  const counts = [0, 0, 0];
  for (const i of selection) if (i >= 0 && i < split.length) counts[split[i]] += 1;
  return counts;
}

/** "820 selected: 606 train · 98 val · 186 test" (splits with none left out). */
export function selectionText(counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  const parts = SPLIT_NAMES.map((name, s) => (counts[s] ? `${counts[s].toLocaleString()} ${name}` : "")).filter(Boolean);
  return `${total.toLocaleString()} selected` + (parts.length ? `: ${parts.join(" · ")}` : "");
}

/** Per split code, whether a lasso may select it: shown and among the `select` names. */
export function selectableSplits(visibleSplit, select) {
  return SPLIT_NAMES.map((name, s) => visibleSplit[s] !== false && select.includes(name));
}
