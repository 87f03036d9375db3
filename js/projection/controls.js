// Toolbar (tools, colour encoding, split toggles, reset, clear) and the legend.

import { BINARY, SPLITS, categorical } from "../lib/colors.js";
import { clear, el } from "../lib/dom.js";
import { ALIGNED_COLORS } from "./colors.js";
import { SPLIT_NAMES, quantile } from "./data.js";

export const TOOLS = [
  ["lasso", "Lasso", "Drag to draw a lasso (shift adds, alt removes)"],
  ["box", "Box", "Drag to select a box (shift adds, alt removes)"],
  ["pan", "Pan", "Drag to pan (or drag with the middle button in any tool)"],
];

/** The toolbar's nodes (listeners are bound by the view). */
export function buildToolbar() {
  const toolbar = el("div", { class: "dw-toolbar" });
  const tools = {};
  for (const [tool, label, title] of TOOLS) {
    tools[tool] = el("button", { text: label, title, attrs: { "data-tool": tool, type: "button" } });
    toolbar.appendChild(tools[tool]);
  }
  const colorSelect = el("select", { class: "dw-color-by", title: "Colour points by" });
  const splitBoxes = el("span", { class: "dw-splits" });
  const resetBtn = el("button", { class: "dw-reset", text: "Reset view", attrs: { type: "button" } });
  const clearBtn = el("button", { class: "dw-clear", text: "Clear selection", attrs: { type: "button" } });
  toolbar.append(el("span", { class: "dw-sep" }), el("label", { text: "Colour " }), colorSelect, splitBoxes, resetBtn, clearBtn);
  return { toolbar, tools, colorSelect, splitBoxes, resetBtn, clearBtn };
}

/** Options of the colour select. */
export function fillColorOptions(select, options, value) {
  clear(select);
  for (const opt of options) select.appendChild(el("option", { text: opt, attrs: { value: opt } }));
  select.value = value;
}

/**
 * One checkbox per split present in `data`, checked when in `shown`; returns the checkboxes
 * ({split index: input}) for the view to bind. Updates `visibleSplit` in place.
 */
export function fillSplitBoxes(container, data, shown, visibleSplit) {
  clear(container);
  const present = [0, 0, 0];
  for (let i = 0; i < data.n; i++) present[data.split[i]] = 1;
  const boxes = {};
  SPLIT_NAMES.forEach((name, s) => {
    visibleSplit[s] = shown.includes(name);
    if (!present[s]) return;
    const box = el("input", { attrs: { type: "checkbox", "data-split": name } });
    box.checked = visibleSplit[s];
    boxes[s] = box;
    container.appendChild(el("label", { class: "dw-split", style: { color: SPLITS[s] } }, [box, el("span", { text: ` ${name}` })]));
  });
  return boxes;
}

/** The legend of colour encoding `mode` (class names as text, never HTML). */
export function fillLegend(legend, mode, classes, data) {
  clear(legend);
  const swatch = (color, text, shape = "circle") =>
    el("span", { class: "dw-legend-item" }, [
      el("span", { class: `dw-swatch dw-${shape}`, style: { background: shape === "circle" ? color : "transparent", color } }),
      el("span", { class: "dw-legend-label", text }),
    ]);
  if (mode === "class" || mode === "predicted") {
    classes.forEach((name, i) => legend.appendChild(swatch(categorical(i), name)));
    legend.appendChild(
      el("span", {
        class: "dw-legend-note",
        text: mode === "class" ? "fill = true class, ring = predicted · ● correct ✕ wrong" : "colour = predicted class · ● correct ✕ wrong",
      }),
    );
  } else if (mode === "correct") {
    legend.append(swatch(BINARY[1], "correct"), swatch(BINARY[0], "wrong"));
  } else if (mode === "split") {
    SPLIT_NAMES.forEach((s, i) => legend.appendChild(swatch(SPLITS[i], s)));
  } else if (mode === "aligned") {
    legend.append(swatch(ALIGNED_COLORS[1], "bias-aligned"), swatch(ALIGNED_COLORS[0], "bias-conflicting"));
  } else if (mode === "loss") {
    const hi = quantile(data.loss, 0.98);
    legend.append(swatch("#440154", "loss 0"), swatch("#21918c", `loss ${(hi / 2).toFixed(2)}`), swatch("#fde725", `loss ≥ ${hi.toFixed(2)}`));
  }
}
