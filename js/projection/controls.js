// Toolbar (tools, colour encoding, split toggles: shown and selectable, reset, clear) and the
// legend. Split names are neutral text beside a colour swatch (coloured text fails contrast).

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
  const splitBoxes = el("span", { class: "dw-splits", title: "splits drawn on the map" });
  const selectBoxes = el("span", {
    class: "dw-select-splits",
    title: "a lasso, box or click selects points of these splits only (hidden splits are never selected)",
  });
  const resetBtn = el("button", { class: "dw-reset", text: "Reset view", attrs: { type: "button" } });
  const clearBtn = el("button", { class: "dw-clear", text: "Clear selection", attrs: { type: "button" } });
  toolbar.append(
    el("span", { class: "dw-sep" }), el("label", { text: "Colour " }), colorSelect,
    el("span", { class: "dw-sep" }), el("span", { class: "dw-tool-label", text: "show:" }), splitBoxes,
    el("span", { class: "dw-sep" }), el("span", { class: "dw-tool-label", text: "lasso selects:" }), selectBoxes,
    resetBtn, clearBtn,
  );
  return { toolbar, tools, colorSelect, splitBoxes, selectBoxes, resetBtn, clearBtn };
}

/** Options of the colour select. */
export function fillColorOptions(select, options, value) {
  clear(select);
  for (const opt of options) select.appendChild(el("option", { text: opt, attrs: { value: opt } }));
  select.value = value;
}

/** Which split codes occur in `data` ([train, val, test] as 0/1). */
export function presentSplits(data) {
  const present = [0, 0, 0];
  for (let i = 0; i < data.n; i++) present[data.split[i]] = 1;
  return present;
}

/**
 * One checkbox per split present in `data`, checked when in `names`; a colour swatch and the
 * split's name as neutral text. `disabled[s]` greys a box out (a hidden split cannot be
 * selected). Returns the checkboxes ({split index: input}) for the view to bind.
 */
export function fillSplitChecks(container, present, names, { kind, disabled = [] }) {
  clear(container);
  const boxes = {};
  SPLIT_NAMES.forEach((name, s) => {
    if (!present[s]) return;
    const box = el("input", { attrs: { type: "checkbox", [`data-${kind}`]: name } });
    box.checked = names.includes(name);
    box.disabled = Boolean(disabled[s]);
    boxes[s] = box;
    const title = disabled[s] ? `${name} is hidden: its points are never selected` : null;
    container.appendChild(
      el("label", { class: `dw-split${disabled[s] ? " dw-disabled" : ""}`, ...(title ? { title } : {}) }, [
        box,
        el("span", { class: "dw-swatch dw-square", style: { background: SPLITS[s] } }),
        el("span", { text: name }),
      ]),
    );
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
  const title = {
    class: "colour by class:",
    predicted: "colour by predicted class:",
    correct: "colour by correctness:",
    split: "colour by split:",
    aligned: "colour by bias alignment:",
    loss: "colour by loss (cross-entropy):",
  }[mode];
  if (title) legend.appendChild(el("span", { class: "dw-legend-title", text: title }));
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
  // the contour lines are drawn in every mode: say what they are
  const present = presentSplits(data);
  const lines = SPLIT_NAMES.filter((_, s) => present[s]).map((name) =>
    el("span", { class: "dw-legend-item" }, [
      el("span", { class: "dw-swatch dw-line", style: { background: SPLITS[SPLIT_NAMES.indexOf(name)] } }),
      el("span", { class: "dw-legend-label", text: name }),
    ]),
  );
  if (lines.length) legend.append(el("span", { class: "dw-legend-title", text: "contours: density of" }), ...lines);
}
