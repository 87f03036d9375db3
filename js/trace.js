// TraceView: every image across versions (DASH). Upper row correct, lower row incorrect; lines
// red = became correct, blue = became wrong, grey = unchanged. Click a point to set focus.

import { getArray } from "./lib/binary.js";
import { disposer, el, hoverTooltip, showError } from "./lib/dom.js";
import { changeOf, traceLayout } from "./lib/mosaic-layout.js";
import { ensureStyle } from "./lib/style.js";

const H = 300;
const FILTERS = ["all", "became right", "became wrong", "always wrong", "always right", "mixed"];

function render({ model, el: host }) {
  ensureStyle();
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-trace" });
  host.appendChild(root);
  const filter = el("select", { class: "dw-filter", title: "Show images whose path is…" });
  const selectShown = el("button", { class: "dw-select-shown", text: "Select shown", attrs: { type: "button" } });
  const counts = el("span", { class: "dw-status dw-trace-counts" });
  const toolbar = el("div", { class: "dw-toolbar" }, [el("label", { text: "show " }), filter, selectShown, counts]);
  const errorBanner = el("div", { class: "dw-error" });
  const canvas = el("canvas", { class: "dw-trace-canvas" });
  const tooltip = el("div", { class: "dw-tooltip" });
  const plot = el("div", { class: "dw-trace-plot", style: { position: "relative" } }, [canvas, tooltip]);
  const legend = el("div", { class: "dw-legend" }, [
    el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: "#d62728" } }), el("span", { text: "became correct" })]),
    el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: "#1f77b4" } }), el("span", { text: "became wrong" })]),
    el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: "#bbb" } }), el("span", { text: "unchanged" })]),
    el("span", { class: "dw-legend-note", text: "upper row: correct · lower row: incorrect" }),
  ]);
  root.append(toolbar, errorBanner, plot, legend);

  let layout = null;
  let data = null;
  let width = 600;
  const dpr = window.devicePixelRatio || 1;

  function load() {
    const versions = model.get("versions");
    const correct = getArray(model, "correct", "uint8", [null, null]);
    const [m, nV] = correct.shape;
    data = {
      nV: m ? nV : versions.length, // the arrays' own width: versions may change before they do
      correct: correct.data,
      pred: getArray(model, "pred", "uint16", [m, nV]).data,
      labels: getArray(model, "labels", "uint16", [m]).data,
      index: getArray(model, "index", "uint32", [m]).data,
    };
    width = Math.max(420, Math.min(1100, 160 * versions.length + 120));
    canvas.width = width * dpr;
    canvas.height = H * dpr;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${H}px`;
    const c = model.get("counts");
    counts.textContent = FILTERS.slice(1).map((f) => `${f} ${c[f] ?? 0}`).join(" · ");
    draw();
  }

  const hint = el("div", { class: "dw-empty", text: "Train a second version to trace images across versions." });
  plot.appendChild(hint);

  function draw() {
    hint.style.display = data && data.nV >= 2 ? "none" : "block";
    canvas.style.display = data && data.nV >= 2 ? "block" : "none";
    if (!data || data.nV < 2) {
      root.setAttribute("data-images", "0");
      root.setAttribute("data-ready", "1");
      return;
    }
    const f = model.get("filter");
    const { correct, nV } = data;
    const m = correct.length / nV;
    const keep = f === "all" ? () => true : (i) => changeOf(correct, i, nV) === f;
    layout = traceLayout(correct, nV, keep, width, H);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, H);
    // bands and version names (canvas text: never HTML)
    ctx.fillStyle = "#f3f7f3";
    ctx.fillRect(0, 16, width, layout.bandH);
    ctx.fillStyle = "#fbf3f3";
    ctx.fillRect(0, 16 + layout.bandH + 24, width, layout.bandH);
    ctx.fillStyle = "#555";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText("correct", 4, 28);
    ctx.fillText("incorrect", 4, 16 + layout.bandH + 36);
    model.get("versions").forEach((v, k) => ctx.fillText(v, layout.xs[k] - 8, 12));
    const { points, shown } = layout;
    const pass = (wanted) => {
      for (let k = 0; k < shown.length; k++) {
        const i = shown[k];
        for (let v = 0; v + 1 < nV; v++) {
          const a = correct[i * nV + v], b = correct[i * nV + v + 1];
          const kind = !a && b ? "red" : a && !b ? "blue" : "grey";
          if (kind !== wanted) continue;
          ctx.beginPath();
          ctx.moveTo(points[(k * nV + v) * 2], points[(k * nV + v) * 2 + 1]);
          ctx.lineTo(points[(k * nV + v + 1) * 2], points[(k * nV + v + 1) * 2 + 1]);
          ctx.stroke();
        }
      }
    };
    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(150,150,150,0.25)";
    pass("grey");
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = "rgba(31,119,180,0.85)";
    pass("blue");
    ctx.strokeStyle = "rgba(214,39,40,0.85)";
    pass("red");
    const focus = model.get("focus");
    for (let k = 0; k < shown.length; k++) {
      const isFocus = data.index[shown[k]] === focus;
      for (let v = 0; v < nV; v++) {
        ctx.fillStyle = isFocus ? "#111" : "#666";
        ctx.fillRect(points[(k * nV + v) * 2] - (isFocus ? 3 : 1.5), points[(k * nV + v) * 2 + 1] - (isFocus ? 3 : 1.5), isFocus ? 6 : 3, isFocus ? 6 : 3);
      }
    }
    root.setAttribute("data-shown", String(shown.length));
    root.setAttribute("data-images", String(m));
    root.setAttribute("data-red", String(layout.segments.red));
    root.setAttribute("data-blue", String(layout.segments.blue));
    root.setAttribute("data-grey", String(layout.segments.grey));
    root.setAttribute("data-filter", f);
    root.setAttribute("data-ready", "1");
  }

  function nearest(ev) {
    if (!layout) return null;
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    let best = null, bestD = 36; // within 6 px
    const { points, shown } = layout;
    for (let k = 0; k < shown.length; k++) {
      for (let v = 0; v < data.nV; v++) {
        const dx = points[(k * data.nV + v) * 2] - x, dy = points[(k * data.nV + v) * 2 + 1] - y;
        const d = dx * dx + dy * dy;
        if (d < bestD) {
          bestD = d;
          best = { row: shown[k], v };
        }
      }
    }
    return best;
  }

  scope.add(hoverTooltip(canvas, tooltip, (ev) => {
    const hit = nearest(ev);
    if (!hit) return null;
    const classes = model.get("classes");
    const i = hit.row;
    return [
      `#${data.index[i]} · label ${classes[data.labels[i]]}`,
      ...model.get("versions").map((v, k) => `${v}: ${classes[data.pred[i * data.nV + k]]} ${data.correct[i * data.nV + k] ? "✓" : "✗"}`),
    ];
  }));
  scope.bind(canvas, { click: (ev) => {
    const hit = nearest(ev);
    if (!hit) return;
    model.set("focus", data.index[hit.row]);
    model.save_changes();
  } });
  for (const f of FILTERS) filter.appendChild(el("option", { text: f, attrs: { value: f } }));
  scope.bind(filter, { change: () => {
    model.set("filter", filter.value);
    model.save_changes();
  } });
  scope.bind(selectShown, { click: () => {
    if (!layout) return;
    model.set("selection", Array.from(layout.shown, (i) => data.index[i]).sort((a, b) => a - b));
    model.save_changes();
  } });

  const handlers = {
    "change:correct": () => load(),
    "change:versions": () => load(),
    "change:counts": () => load(),
    "change:filter": () => ((filter.value = model.get("filter")), draw()),
    "change:focus": () => draw(),
    "change:error": () => showError(errorBanner, model.get("error")),
  };
  scope.bind(model, handlers);
  filter.value = model.get("filter");
  load();
  showError(errorBanner, model.get("error"));
  return scope.dispose;
}

export default { render };
