// Fill and ring colours of every point for one colour encoding (pure: unit-tested).

import { BINARY, SPLITS, categorical, hexToRgb, sequential } from "../lib/colors.js";
import { quantile } from "./data.js";

export const ALIGNED_COLORS = ["#e6ab02", "#7570b3"]; // bias-conflicting, bias-aligned

function rgb255(c) {
  return [Math.round(c[0] * 255), Math.round(c[1] * 255), Math.round(c[2] * 255)];
}

/**
 * RGBA bytes per point: `fill` by `mode` ("class": true class with the ring the predicted class;
 * "predicted", "correct", "split", "aligned", "loss"), faded when others are selected, hidden
 * for splits not shown; the ring is drawn only for wrong predictions (a cross).
 * @returns {{fill: Uint8Array, stroke: Uint8Array}}
 */
export function pointColors(data, { mode, selected, anySelected, visibleSplit }) {
  const n = data.n;
  const fill = new Uint8Array(4 * n), stroke = new Uint8Array(4 * n);
  const lossMax = mode === "loss" ? quantile(data.loss, 0.98) : 1;
  const cache = new Map();
  const rgbOf = (hex) => {
    if (!cache.has(hex)) cache.set(hex, rgb255(hexToRgb(hex)));
    return cache.get(hex);
  };
  // per class / code colours computed once: no per-point arrays (10^6 points recolour in ms)
  const classRgb = [], classDim = [];
  const ofClass = (c) => {
    if (!classRgb[c]) {
      classRgb[c] = rgbOf(categorical(c));
      classDim[c] = dim(classRgb[c]);
    }
    return classRgb[c];
  };
  const fixed = (hexes) => hexes.map((h) => rgbOf(h));
  const fixedDim = (rgbs) => rgbs.map(dim);
  const binary = fixed(BINARY), splits = fixed(SPLITS), aligned = fixed(ALIGNED_COLORS);
  const pending = rgbOf("#999999");
  const binaryDim = fixedDim(binary), splitsDim = fixedDim(splits), alignedDim = fixedDim(aligned);
  for (let i = 0; i < n; i++) {
    let f, s;
    switch (mode) {
      case "predicted":
        f = ofClass(data.pred[i]);
        s = classDim[data.pred[i]];
        break;
      case "correct": {
        const k = data.correct[i] ? 1 : 0;
        f = binary[k];
        s = binaryDim[k];
        break;
      }
      case "split": {
        const k = splits[data.split[i]] ? data.split[i] : 0;
        f = splits[k];
        s = splitsDim[k];
        break;
      }
      case "aligned": {
        const k = data.aligned && data.aligned[i] ? 1 : 0;
        f = aligned[k];
        s = alignedDim[k];
        break;
      }
      case "loss": // grey until the losses arrive (they follow the first frame)
        f = i < data.loss.length ? rgb255(sequential(data.loss[i] / lossMax)) : pending;
        s = dim(f);
        break;
      default: // class: fill = true class, ring = predicted class
        f = ofClass(data.label[i]);
        s = ofClass(data.pred[i]);
    }
    const visible = visibleSplit[data.split[i]] !== false;
    const alpha = !visible ? 0 : anySelected && !selected[i] ? 60 : 230;
    const o = 4 * i;
    fill[o] = f[0];
    fill[o + 1] = f[1];
    fill[o + 2] = f[2];
    fill[o + 3] = alpha;
    stroke[o] = s[0];
    stroke[o + 1] = s[1];
    stroke[o + 2] = s[2];
    stroke[o + 3] = data.correct[i] ? 0 : 255;
  }
  return { fill, stroke };
}

function dim(c) {
  return c.map((v) => v * 0.6);
}
