// TraceView: every image across versions (DASH). Upper band correct, lower band incorrect; one
// point per image and version, lines join an image's points: red = became correct, blue = became
// wrong, grey = unchanged. The shared selection (whoever made it) is drawn on top, thicker, the
// other images dimmed; the focused image is a large point. Click a point to set focus. The canvas
// fills its container's width (redrawn on resize) and follows the theme (lib/theme.js).

import { getArray } from "./lib/binary.js";
import { disposer, el, hoverTooltip, showError } from "./lib/dom.js";
import { changeOf, mixRgb, selectedRows, themeRgb, traceLayout } from "./lib/mosaic-layout.js";
import { readSelection, selectionCount, writeSelection } from "./lib/selection.js";
import { addStyle } from "./lib/style.js";
import { onThemeChange, themeColors } from "./lib/theme.js";

const H = 320;
const M = { left: 92, right: 14, top: 10, bottom: 40 }; // room for band labels, ticks, axis titles
const FILTERS = ["all", "became right", "became wrong", "always wrong", "always right", "mixed"];

const CSS = `
.dw-trace-plot { position: relative; width: 100%; min-width: 0; }
.dw-trace-versions { color: var(--dw-fg); }
`;

/** Line colours: DASH's red and blue, lighter in a dark theme so that they read on it. */
function lineColors(dark) {
  return dark
    ? { red: [240, 96, 96], blue: [96, 165, 230] }
    : { red: [214, 39, 40], blue: [31, 119, 180] };
}

function render({ model, el: host }) {
  addStyle("dw-trace-style", CSS);
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
  const plot = el("div", { class: "dw-trace-plot" }, [canvas, tooltip]);
  const swatch = () => el("span", { class: "dw-swatch", style: { borderRadius: "0", height: "3px", width: "16px" } });
  const [swRed, swBlue, swGrey] = [swatch(), swatch(), swatch()];
  const versionsText = el("span", { class: "dw-trace-versions" });
  const selText = el("span", { class: "dw-legend-note dw-trace-selnote" });
  const legend = el("div", { class: "dw-legend" }, [
    versionsText,
    el("span", { class: "dw-legend-item" }, [swRed, el("span", { text: "became correct (wrong → right)" })]),
    el("span", { class: "dw-legend-item" }, [swBlue, el("span", { text: "became wrong (right → wrong)" })]),
    el("span", { class: "dw-legend-item" }, [swGrey, el("span", { text: "unchanged" })]),
    el("span", { class: "dw-legend-note", text: "one line per image · thick lines: selected images · large point: focused image" }),
    selText,
  ]);
  root.append(toolbar, errorBanner, plot, legend);

  let layout = null;
  let data = null;
  let width = 0; // CSS pixels: the container's width
  let selected = new Uint8Array(0);
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
    const c = model.get("counts");
    counts.textContent = FILTERS.slice(1).map((f) => `${f} ${c[f] ?? 0}`).join(" · ");
    versionsText.textContent = versions.length ? `versions (x axis, training order): ${versions.join(", ")}` : "";
    updateSelection();
  }

  function updateSelection() {
    selected = data ? selectedRows(data.index, readSelection(model)) : new Uint8Array(0);
    draw();
  }

  function size() {
    const w = Math.floor(plot.clientWidth);
    if (w > 0) width = w;
    if (!width) width = 600; // not attached yet: the resize observer corrects it
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(H * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${H}px`;
  }

  const hint = el("div", { class: "dw-empty", text: "Train a second version to trace images across versions." });
  plot.appendChild(hint);

  function draw() {
    const ok = data && data.nV >= 2;
    hint.style.display = ok ? "none" : "block";
    canvas.style.display = ok ? "block" : "none";
    if (!ok) {
      root.setAttribute("data-images", "0");
      root.setAttribute("data-selected", "0");
      root.setAttribute("data-ready", "1");
      return;
    }
    if (!width || canvas.width !== Math.round(width * dpr)) size();
    const colors = themeColors(root);
    const theme = themeRgb(colors);
    const lines = lineColors(colors.dark);
    const f = model.get("filter");
    const { correct, nV } = data;
    const m = correct.length / nV;
    const keep = f === "all" ? () => true : (i) => changeOf(correct, i, nV) === f;
    const plotW = width - M.left - M.right, plotH = H - M.top - M.bottom;
    layout = traceLayout(correct, nV, keep, plotW, plotH, 0);
    for (let k = 0; k < layout.points.length; k += 2) {
      layout.points[k] += M.left;
      layout.points[k + 1] += M.top;
    }
    const xs = layout.xs.map((x) => x + M.left);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = colors.bg; // the background is painted: the canvas follows the theme
    ctx.fillRect(0, 0, width, H);
    // bands, band labels (y ticks), version ticks and axis titles (canvas text: never HTML)
    const bandFill = `rgb(${mixRgb(theme.bg, theme.fg, 0.05).join(",")})`;
    const upper = M.top, lower = M.top + layout.bandH + 24;
    ctx.fillStyle = bandFill;
    ctx.fillRect(M.left, upper, plotW, layout.bandH);
    ctx.fillRect(M.left, lower, plotW, layout.bandH);
    ctx.fillStyle = colors.fg;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText("correct", M.left - 6, upper + layout.bandH / 2);
    ctx.fillText("incorrect", M.left - 6, lower + layout.bandH / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    model.get("versions").slice(0, nV).forEach((v, k) => ctx.fillText(v, xs[k], H - M.bottom + 14));
    ctx.fillStyle = colors.muted;
    ctx.fillText("model version (training order)", M.left + plotW / 2, H - 6);
    ctx.save();
    ctx.translate(14, M.top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText("classified by each version", 0, 0);
    ctx.restore();
    ctx.textAlign = "start";
    // lines: grey, blue, red; the selection's on top, the rest dimmed while there is one
    const { points, shown } = layout;
    let nSelShown = 0;
    for (let k = 0; k < shown.length; k++) nSelShown += selected[shown[k]];
    const anySel = nSelShown > 0;
    const rgba = (c, a) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;
    const greyRgb = mixRgb(theme.bg, theme.fg, 0.45);
    const stroke = { grey: greyRgb, blue: lines.blue, red: lines.red };
    const pass = (wanted, onlySelected) => {
      for (let k = 0; k < shown.length; k++) {
        const i = shown[k];
        if (onlySelected && !selected[i]) continue;
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
    const dim = anySel ? 0.35 : 1;
    for (const kind of ["grey", "blue", "red"]) {
      ctx.lineWidth = kind === "grey" ? 1 : 1.2;
      ctx.strokeStyle = rgba(stroke[kind], (kind === "grey" ? 0.35 : 0.85) * dim);
      pass(kind, false);
    }
    if (anySel) {
      for (const kind of ["grey", "blue", "red"]) {
        ctx.lineWidth = 2.2;
        ctx.strokeStyle = rgba(stroke[kind], 1);
        pass(kind, true);
      }
    }
    // points: opaque, in the theme's muted text colour; dimmed when not selected
    const pointRgb = mixRgb(theme.bg, theme.fg, 0.6);
    const dimRgb = mixRgb(theme.bg, theme.fg, 0.3);
    const focus = model.get("focus");
    let focusShown = -1;
    for (let k = 0; k < shown.length; k++) {
      const i = shown[k];
      if (data.index[i] === focus) focusShown = k;
      const sel = selected[i] === 1;
      ctx.fillStyle = `rgb(${(anySel && !sel ? dimRgb : pointRgb).join(",")})`;
      const r = sel ? 2.5 : 1.5;
      for (let v = 0; v < nV; v++) ctx.fillRect(points[(k * nV + v) * 2] - r, points[(k * nV + v) * 2 + 1] - r, 2 * r, 2 * r);
    }
    if (focusShown >= 0) {
      for (let v = 0; v < nV; v++) {
        ctx.beginPath();
        ctx.arc(points[(focusShown * nV + v) * 2], points[(focusShown * nV + v) * 2 + 1], 4.5, 0, 2 * Math.PI);
        ctx.fillStyle = colors.fg;
        ctx.fill();
        ctx.strokeStyle = colors.bg;
        ctx.lineWidth = 1.5;
        ctx.stroke();
      }
    }
    swRed.style.background = `rgb(${lines.red.join(",")})`;
    swBlue.style.background = `rgb(${lines.blue.join(",")})`;
    swGrey.style.background = `rgb(${greyRgb.join(",")})`;
    let nSel = 0;
    for (let i = 0; i < selected.length; i++) nSel += selected[i];
    const total = selectionCount(model);
    selText.textContent = total ? `selected: ${nSel} of the ${m} traced images (${nSelShown} shown)` : "";
    root.setAttribute("data-shown", String(shown.length));
    root.setAttribute("data-images", String(m));
    root.setAttribute("data-selected", String(nSel));
    root.setAttribute("data-selected-shown", String(nSelShown));
    root.setAttribute("data-focus", String(focusShown >= 0 ? focus : -1));
    root.setAttribute("data-point-rgb", pointRgb.join(","));
    root.setAttribute("data-width", String(width));
    root.setAttribute("data-red", String(layout.segments.red));
    root.setAttribute("data-blue", String(layout.segments.blue));
    root.setAttribute("data-grey", String(layout.segments.grey));
    root.setAttribute("data-filter", f);
    root.setAttribute("data-theme", colors.dark ? "dark" : "light");
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
      `#${data.index[i]} · label ${classes[data.labels[i]]}${selected[i] ? " · selected" : ""}`,
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
    writeSelection(model, Array.from(layout.shown, (i) => data.index[i]));
    model.save_changes();
  } });

  const handlers = {
    "change:correct": () => load(),
    "change:index": () => load(),
    "change:versions": () => load(),
    "change:counts": () => load(),
    "change:filter": () => ((filter.value = model.get("filter")), draw()),
    "change:selection": () => updateSelection(),
    "change:focus": () => draw(),
    "change:error": () => showError(errorBanner, model.get("error")),
  };
  scope.bind(model, handlers);
  scope.add(onThemeChange(() => draw()));
  const observer = new ResizeObserver(() => {
    const w = Math.floor(plot.clientWidth);
    if (w > 0 && w !== width) {
      width = w;
      size();
      draw();
    }
  });
  observer.observe(plot);
  scope.add(() => observer.disconnect());
  filter.value = model.get("filter");
  load();
  showError(errorBanner, model.get("error"));
  return scope.dispose;
}

export default { render };
