// The hover tooltip of one point: its thumbnail (when cached) and its facts, as text.

import { clear, el } from "../lib/dom.js";
import { SPLIT_NAMES } from "./data.js";

/** The tooltip's lines for point `i` (strings: rendered with textContent, never HTML). */
export function pointLines(data, classes, i) {
  return [
    `#${i} · ${SPLIT_NAMES[data.split[i]] || ""}`,
    `label: ${classes[data.label[i]]}`,
    `predicted: ${classes[data.pred[i]]}` + (i < data.confidence.length ? ` (${(100 * data.confidence[i]).toFixed(1)} %)` : ""),
    (i < data.loss.length ? `loss: ${data.loss[i].toFixed(3)} · ` : "") + (data.correct[i] ? "correct" : "wrong"),
  ];
}

/** Fill and place `tooltip` for point `i` at screen point `p`; asks for the thumbnail if missing. */
export function showPointTooltip(tooltip, { data, classes, thumbs, view }, i, p) {
  clear(tooltip);
  const t = thumbs.get(i);
  if (t) {
    const c = el("canvas", { class: "dw-tooltip-thumb" });
    c.width = c.height = 64;
    c.getContext("2d").drawImage(t.bitmap, t.sx, t.sy, t.size, t.size, 0, 0, 64, 64);
    tooltip.appendChild(c);
  } else {
    thumbs.want([i]);
  }
  tooltip.appendChild(el("div", {}, pointLines(data, classes, i).map((text) => el("div", { text }))));
  tooltip.style.display = "block";
  tooltip.style.left = `${Math.min(p[0] + 14, view.width - 190)}px`;
  tooltip.style.top = `${Math.min(p[1] + 14, view.height - 120)}px`;
  tooltip.setAttribute("data-index", String(i));
}

export function hideTooltip(tooltip) {
  tooltip.style.display = "none";
}
