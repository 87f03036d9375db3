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
  const dim = (c) => c.map((v) => v * 0.6);
  for (let i = 0; i < n; i++) {
    let f, s;
    switch (mode) {
      case "predicted":
        f = rgbOf(categorical(data.pred[i]));
        s = dim(f);
        break;
      case "correct":
        f = rgbOf(BINARY[data.correct[i] ? 1 : 0]);
        s = dim(f);
        break;
      case "split":
        f = rgbOf(SPLITS[data.split[i]] || SPLITS[0]);
        s = dim(f);
        break;
      case "aligned":
        f = rgbOf(ALIGNED_COLORS[data.aligned && data.aligned[i] ? 1 : 0]);
        s = dim(f);
        break;
      case "loss":
        f = rgb255(sequential(data.loss[i] / lossMax));
        s = dim(f);
        break;
      default: // class: fill = true class, ring = predicted class
        f = rgbOf(categorical(data.label[i]));
        s = rgbOf(categorical(data.pred[i]));
    }
    const visible = visibleSplit[data.split[i]] !== false;
    const alpha = !visible ? 0 : anySelected && !selected[i] ? 60 : 230;
    fill.set([f[0], f[1], f[2], alpha], 4 * i);
    stroke.set([s[0], s[1], s[2], data.correct[i] ? 0 : 255], 4 * i);
  }
  return { fill, stroke };
}
