// MosaicView: the confusion difference of two versions (DASH). Cell area ∝ count under version
// b, red = b better there, blue = worse; hover for counts; click selects a cell's images,
// ctrl/cmd-click adds cells. Selection is computed here from the per-image arrays, so it also
// works in an exported page.

import { getArray } from "./lib/binary.js";
import { disposer, el, hoverTooltip, showError } from "./lib/dom.js";
import { changeColor, confusionCounts, mosaicCells } from "./lib/mosaic-layout.js";
import { ensureStyle } from "./lib/style.js";

const W = 560, H = 320, LEFT = 8, BOTTOM = 22;

function render({ model, el: host }) {
  ensureStyle();
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-mosaic" });
  host.appendChild(root);
  const title = el("div", { class: "dw-status dw-mosaic-title" });
  const errorBanner = el("div", { class: "dw-error" });
  const canvas = el("canvas", { class: "dw-mosaic-canvas" });
  const tooltip = el("div", { class: "dw-tooltip" });
  const plot = el("div", { class: "dw-mosaic-plot", style: { position: "relative", width: `${W + LEFT}px` } }, [canvas, tooltip]);
  const legend = el("div", { class: "dw-legend" }, [
    el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: "#d62728", borderRadius: "0" } }), el("span", { text: "better in b" })]),
    el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: "#1f77b4", borderRadius: "0" } }), el("span", { text: "worse in b" })]),
    el("span", { class: "dw-legend-note", text: "columns: true class (width ∝ images) · cells: predicted by b (height ∝ count) · click selects, ctrl/⌘-click adds" }),
  ]);
  root.append(title, errorBanner, plot, legend);

  const dpr = window.devicePixelRatio || 1;
  canvas.width = (W + LEFT) * dpr;
  canvas.height = (H + BOTTOM) * dpr;
  canvas.style.width = `${W + LEFT}px`;
  canvas.style.height = `${H + BOTTOM}px`;

  let cells = [];
  let data = null;
  let picked = new Set(); // "t,p" of the cells that make up the selection

  function load() {
    const labels = getArray(model, "labels", "uint16", [null]).data;
    const m = [labels.length];
    data = {
      labels,
      a: getArray(model, "pred_a", "uint16", m).data,
      b: getArray(model, "pred_b", "uint16", m).data,
      index: getArray(model, "index", "uint32", m).data,
    };
    const n = model.get("classes").length;
    const ca = confusionCounts(data.labels, data.a, n);
    const cb = confusionCounts(data.labels, data.b, n);
    cells = labels.length ? mosaicCells(ca, cb, W, H) : [];
    const [va, vb] = model.get("versions");
    const [acc0, acc1] = model.get("accuracy");
    title.textContent = `${va} → ${vb} on ${model.get("split") || "all images"}: accuracy ${(100 * (acc0 ?? 0)).toFixed(1)} % → ${(100 * (acc1 ?? 0)).toFixed(1)} %`;
    draw();
  }

  function draw() {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W + LEFT, H + BOTTOM);
    const maxAbs = Math.max(1, ...cells.map((c) => Math.abs(c.good)));
    const classes = model.get("classes");
    for (const c of cells) {
      ctx.fillStyle = changeColor(c.good, maxAbs, c.t === c.p);
      ctx.fillRect(LEFT + c.x, c.y, Math.max(1, c.w), c.h);
      if (picked.has(`${c.t},${c.p}`)) {
        ctx.strokeStyle = "#111";
        ctx.lineWidth = 2;
        ctx.strokeRect(LEFT + c.x + 1, c.y + 1, Math.max(1, c.w - 2), Math.max(1, c.h - 2));
      }
      if (c.h >= 14 && c.w >= 18) {
        ctx.fillStyle = "#222";
        ctx.font = "10px system-ui, sans-serif";
        ctx.fillText(String(c.b), LEFT + c.x + 3, c.y + 11, c.w - 4); // canvas text: never HTML
      }
    }
    ctx.fillStyle = "#444";
    ctx.font = "11px system-ui, sans-serif";
    const seen = new Set();
    for (const c of cells) {
      if (seen.has(c.t)) continue;
      seen.add(c.t);
      ctx.fillText(String(classes[c.t] ?? c.t), LEFT + c.x + 2, H + 15, Math.max(8, c.w - 2));
    }
    root.setAttribute(
      "data-cells",
      JSON.stringify(cells.map((c) => ({ t: c.t, p: c.p, x: LEFT + c.x, y: c.y, w: c.w, h: c.h, a: c.a, b: c.b }))),
    );
    root.setAttribute("data-ready", "1");
  }

  function cellAt(ev) {
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left - LEFT, y = ev.clientY - r.top;
    return cells.find((c) => x >= c.x && x <= c.x + Math.max(1, c.w) && y >= c.y && y <= c.y + c.h);
  }

  function indicesOf(cell) {
    const out = [];
    for (let i = 0; i < data.labels.length; i++) if (data.labels[i] === cell.t && data.b[i] === cell.p) out.push(data.index[i]);
    return out;
  }

  scope.add(hoverTooltip(canvas, tooltip, (ev) => {
    const c = cellAt(ev);
    if (!c) return null;
    const classes = model.get("classes");
    const [va, vb] = model.get("versions");
    const d = c.b - c.a;
    return [`true ${classes[c.t]} → predicted ${classes[c.p]}`, `${va}: ${c.a} · ${vb}: ${c.b} (${d > 0 ? "+" : ""}${d})`];
  }));
  scope.bind(canvas, { click: (ev) => {
    const c = cellAt(ev);
    if (!c) return;
    const add = ev.ctrlKey || ev.metaKey;
    const key = `${c.t},${c.p}`;
    let sel;
    if (add) {
      picked.add(key);
      sel = new Set(model.get("selection"));
      for (const i of indicesOf(c)) sel.add(i);
    } else {
      picked = new Set([key]);
      sel = new Set(indicesOf(c));
    }
    model.set("selection", [...sel].sort((x, y) => x - y));
    model.save_changes();
    draw();
  } });

  const handlers = {
    "change:index": () => load(),
    "change:pred_a": () => load(),
    "change:pred_b": () => load(),
    "change:labels": () => load(),
    "change:accuracy": () => load(),
    "change:selection": () => {
      if (!model.get("selection").length && picked.size) {
        picked = new Set();
        draw();
      }
    },
    "change:error": () => showError(errorBanner, model.get("error")),
  };
  scope.bind(model, handlers);
  load();
  showError(errorBanner, model.get("error"));
  return scope.dispose;
}

export default { render };
