// RegionView (De Coninck et al., Fig. 1-3): a region classifier's attributions. Per shown image:
// the image, its √p×√p region map, its pixel map over the image and a preview of what mitigation
// at the quantile removes (greyed); the focused image large; the reliability diagram with its ECE.
// The kernel sends the images (PNG atlas) and the float32 maps; the quantile threshold of those
// maps is applied here (display logic), so the slider never asks the kernel.

import { atlasRedraw, drawCell } from "./lib/atlas.js";
import { getArray } from "./lib/binary.js";
import { lutColor, paintColorbar } from "./lib/colorbar.js";
import { CATEGORICAL, colormapLut } from "./lib/colors.js";
import { clear, disposer, el, showError } from "./lib/dom.js";
import { quantileText, reliabilityTitle, removedPixels, shareTicks } from "./lib/region-format.js";
import { addStyle } from "./lib/style.js";
import { onThemeChange, themeColors } from "./lib/theme.js";
import { jobStatus } from "./lib/job.js";

const SMALL = 72, LARGE = 150, OPACITY = 0.6, GREY = 128;
const LUT = colormapLut("viridis");
const ACC = CATEGORICAL[0], SHARE = CATEGORICAL[2];
const NS = "http://www.w3.org/2000/svg";
const COLUMNS = ["image", "region map (√p×√p)", "pixel map over the image", "removed by mitigation"];

const CSS = `
.dw-regions { max-width: 100%; box-sizing: border-box; }
.dw-regions-head, .dw-regions-controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin-bottom: 4px; }
.dw-regions-title { font-weight: 600; font-size: 13px; }
.dw-regions-status { color: var(--dw-fg-muted); }
.dw-regions-controls label { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; }
.dw-regions input[type=number] { width: 56px; }
.dw-regions-q { font-variant-numeric: tabular-nums; color: var(--dw-fg-muted); min-width: 300px; }
.dw-regions-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.dw-regions-images { min-width: 0; }
.dw-regions-row { display: flex; gap: 6px; align-items: center; padding: 2px; border: 2px solid transparent; border-radius: 3px; cursor: pointer; background: var(--dw-bg-alt); margin-bottom: 3px; }
.dw-regions-row.dw-focus { border-color: var(--dw-accent); }
.dw-regions-row canvas, .dw-regions-focus canvas { display: block; image-rendering: pixelated; }
.dw-regions-meta { width: 120px; font-size: 11px; overflow: hidden; }
.dw-regions-meta span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dw-regions-colhead { display: flex; gap: 6px; padding: 0 4px; color: var(--dw-fg-muted); font-size: 11px; }
.dw-regions-colhead span { width: ${SMALL}px; flex: none; }
.dw-regions-colhead span:first-child { width: 120px; }
.dw-regions-focus { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.dw-regions-focus figure { margin: 0; }
.dw-regions-focus figcaption { color: var(--dw-fg-muted); font-size: 11px; max-width: ${LARGE}px; }
.dw-regions-note { color: var(--dw-fg-muted); font-size: 11px; }
.dw-regions-colorbar { display: inline-flex; align-items: center; gap: 4px; }
.dw-regions-colorbar canvas { display: block; border: 1px solid var(--dw-border); }
.dw-regions-chart h4 { margin: 0 0 3px 0; font-size: 12px; font-weight: 600; color: var(--dw-fg); }
`;

function render({ model, el: host }) {
  addStyle("dw-regions-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-regions" });
  host.appendChild(root);
  const setAndSave = (name, value) => { model.set(name, value); model.save_changes(); };

  // controls: the classifier to train, the map and quantile of the preview, the mitigation
  const attrSel = el("select", { class: "dw-regions-attribute", attrs: { title: "attribute the region classifier predicts" } });
  const patchIn = el("input", { class: "dw-regions-patch", attrs: { type: "number", min: 1, step: 1, placeholder: "auto", title: "patch side k in pixels (empty: the engine's default)" } });
  const posIn = el("input", { class: "dw-regions-positions", attrs: { type: "number", min: 4, step: 1, placeholder: "auto", title: "patch positions p, a square number (empty: the engine's default)" } });
  const trainBtn = el("button", { class: "dw-regions-train", text: "Train", attrs: { type: "button", title: "train a region classifier with these settings" } });
  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress", title: "training the region classifier" }, [bar]);
  const cancelBtn = el("button", { class: "dw-cancel", text: "Cancel", attrs: { type: "button", title: "stop training" } });
  const status = el("span", { class: "dw-regions-status" });
  const mapSel = el("select", { class: "dw-regions-map", attrs: { title: "map that picks the pixels mitigation changes" } },
    [["specific", "image's own map"], ["general", "general (train mean) map"]].map(([v, t]) => el("option", { text: t, attrs: { value: v } })));
  const slider = el("input", { class: "dw-regions-quantile", attrs: { type: "range", min: 0.05, max: 0.95, step: 0.05, title: "map quantile above which mitigation changes pixels" } });
  const qText = el("span", { class: "dw-regions-q" });
  const methodSel = el("select", { class: "dw-regions-method", attrs: { title: "mitigation: grey the pixels out, or add Gaussian noise (sigma 0.5)" } },
    [["mask", "mask (grey)"], ["noise", "noise"]].map(([v, t]) => el("option", { text: t, attrs: { value: v } })));
  const mitigateBtn = el("button", { class: "dw-regions-mitigate", text: "Mitigate", attrs: { type: "button", title: "augment the selected train images: eng.augment(selection, method, region=rc, map, quantile)" } });
  const binsSel = el("select", { class: "dw-regions-bins", attrs: { title: "reliability bins" } });
  const errorBanner = el("div", { class: "dw-error" });
  const barCanvas = el("canvas");
  const focusBox = el("div", { class: "dw-regions-focus" });
  const rows = el("div", { class: "dw-regions-rows" });
  const countNote = el("div", { class: "dw-regions-note dw-regions-count" });
  const chart = el("div", { class: "dw-regions-chart" });
  root.append(
    el("div", { class: "dw-regions-head" }, [
      el("span", { class: "dw-regions-title", text: "Region attributions" }),
      el("label", {}, [el("span", { text: "attribute" }), attrSel]),
      el("label", {}, [el("span", { text: "patch" }), patchIn]),
      el("label", {}, [el("span", { text: "positions" }), posIn]),
      trainBtn, progress, cancelBtn, status,
    ]),
    el("div", { class: "dw-regions-controls" }, [
      el("label", {}, [el("span", { text: "map" }), mapSel]),
      el("label", {}, [el("span", { text: "quantile" }), slider]), qText,
      el("label", {}, [el("span", { text: "mitigation" }), methodSel]), mitigateBtn,
      el("label", {}, [el("span", { text: "bins" }), binsSel]),
    ]),
    errorBanner,
    el("div", { class: "dw-legend" }, [
      el("span", { class: "dw-regions-colorbar", title: "viridis: region-map cells are patch confidences, pixel maps are normalised to [0, 1] per image" }, [
        el("span", { text: "confidence 0" }), barCanvas, el("span", { text: "1" }),
      ]),
      el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: `rgb(${GREY},${GREY},${GREY})`, borderRadius: "2px" } }), el("span", { text: "pixels mitigation changes" })]),
      el("span", { class: "dw-legend-note", text: "accent border: focused image · click a row to focus it in linked views" }),
    ]),
    el("div", { class: "dw-regions-body" }, [el("div", { class: "dw-regions-images" }, [focusBox, rows, countNote]), chart]),
  );
  paintColorbar(barCanvas, 140, 10, lutColor(LUT));

  let atlas = null;
  let bases = []; // RGBA pixels of each shown image (h x w)

  function dims() {
    const px = getArray(model, "pixel_maps", "float32", [null, null, null]);
    const rg = getArray(model, "region_maps", "float32", [null, null, null]);
    const gm = getArray(model, "general_map", "float32", [null, null]);
    return { px, rg, gm, h: px.shape[1], w: px.shape[2], g: rg.shape[1] };
  }

  function paint(canvas, w, h, fill) {
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(w, h);
    fill(img.data);
    ctx.putImageData(img, 0, 0);
  }

  function heat(out, values, base) {
    for (let p = 0; p < values.length; p++) {
      const v = Math.round(Math.min(1, Math.max(0, values[p])) * 255) * 3, o = 4 * p;
      for (let c = 0; c < 3; c++) out[o + c] = base ? base[o + c] * (1 - OPACITY) + LUT[v + c] * OPACITY : LUT[v + c];
      out[o + 3] = 255;
    }
  }

  /** The four canvases of shown image k at `size` CSS px; the preview carries data-removed. */
  function canvases(k, size, d) {
    const { px, rg, gm, h, w, g } = d;
    const scale = size / Math.max(h, w);
    const mk = (cls, cw, ch) => {
      const c = el("canvas", { class: cls });
      c.style.width = `${Math.round(cw * scale)}px`; c.style.height = `${Math.round(ch * scale)}px`;
      return c;
    };
    const image = mk("dw-regions-image", w, h), region = mk("dw-regions-region", w, h), pixel = mk("dw-regions-pixel", w, h), preview = mk("dw-regions-preview", w, h);
    const base = bases[k];
    const pmap = px.data.subarray(k * h * w, (k + 1) * h * w);
    paint(region, g, g, (out) => heat(out, rg.data.subarray(k * g * g, (k + 1) * g * g), null));
    paint(pixel, w, h, (out) => heat(out, pmap, base));
    const general = model.get("map_kind") === "general";
    const map = general ? gm.data : pmap;
    if (base) paint(image, w, h, (out) => out.set(base));
    if (base && map.length === h * w) {
      const { mask, count, threshold } = removedPixels(map, model.get("quantile"));
      paint(preview, w, h, (out) => {
        out.set(base);
        for (let p = 0; p < mask.length; p++) if (mask[p]) out[4 * p] = out[4 * p + 1] = out[4 * p + 2] = GREY;
      });
      preview.setAttribute("data-removed", String(count));
      preview.setAttribute("data-threshold", String(threshold));
    }
    preview.title = general && !gm.data.length ? "computing the general map…" : "greyed: the pixels mitigation changes";
    return [image, region, pixel, preview];
  }

  function drawImages() {
    clear(rows); clear(focusBox);
    const shown = model.get("shown");
    const focus = model.get("focus");
    const cls = model.get("classifier");
    if (!shown.length) {
      countNote.textContent = model.get("state") === "done" ? "No images selected: select images in a linked view, or set view.selection." : "";
      return;
    }
    const d = dims();
    if (d.px.shape[0] !== shown.length) return; // maps of another selection still on their way
    const attr = cls.attribute || "";
    const meta = (it) => el("div", { class: "dw-regions-meta" }, [
      el("span", { text: `#${it.index} · ${it.split}` }),
      el("span", { class: "dw-regions-label", text: `class ${it.label}` }),
      el("span", { class: "dw-regions-target", text: `${attr} ${it.target}` }),
    ]);
    const cols = COLUMNS.map((t, j) => (j === 1 && cls.grid ? `region map (${cls.grid}×${cls.grid})` : t));
    rows.appendChild(el("div", { class: "dw-regions-colhead" }, [el("span", { text: "" }), ...cols.map((t) => el("span", { text: t }))]));
    shown.forEach((it, k) => {
      const isFocus = it.index === focus;
      rows.appendChild(el("div", {
        class: `dw-regions-row${isFocus ? " dw-focus" : ""}`,
        attrs: { "data-index": it.index },
        title: `image #${it.index}: click to focus it`,
        on: { click: () => setAndSave("focus", it.index) },
      }, [meta(it), ...canvases(k, SMALL, d)]));
      if (isFocus) {
        const big = canvases(k, LARGE, d);
        focusBox.append(...big.map((c, j) => el("figure", {}, [c, el("figcaption", { text: j === 0 ? `#${it.index} · class ${it.label} · ${attr} ${it.target}` : cols[j] })])));
      }
    });
    const n = model.get("n_selected");
    countNote.textContent = n > model.get("max_images") ? `showing the first ${model.get("max_images")} of ${n} selected images` : "";
  }

  function drawChart() {
    clear(chart);
    const bins = model.get("reliability");
    const note = model.get("reliability_note");
    if (!bins.length) {
      if (note) chart.append(el("h4", { text: "Reliability" }), el("div", { class: "dw-regions-note", text: note }));
      return;
    }
    const c = themeColors(root);
    const W = 320, H = 330, L = 48, R = 10, T = 8, top = 200, gap = 26, low = 52, B = T + top + gap + low;
    const mk = (tag, attrs = {}, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const svg = mk("svg", { class: "dw-regions-reliability", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
    const x = (v) => L + v * (W - L - R);
    const y1 = (v) => T + top - v * top;
    const maxShare = Math.max(...bins.map((b) => b.share || 0));
    const sTicks = shareTicks(maxShare);
    const y2 = (v) => B - (v / sTicks[2]) * low;
    const text = (cls, tx, ty, s, anchor = "middle", extra = {}) => svg.appendChild(mk("text", { class: cls, x: tx, y: ty, "text-anchor": anchor, "font-size": 10, fill: c.muted, ...extra }, s));
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      svg.appendChild(mk("line", { x1: L, x2: W - R, y1: y1(t), y2: y1(t), stroke: c.grid }));
      text("dw-tick", L - 4, y1(t) + 3.5, String(t), "end");
      text("dw-tick dw-xtick", x(t), B + 13, String(t));
    }
    for (const t of sTicks) {
      svg.appendChild(mk("line", { x1: L, x2: W - R, y1: y2(t), y2: y2(t), stroke: c.grid }));
      text("dw-tick", L - 4, y2(t) + 3.5, String(t), "end");
    }
    bins.forEach((b) => {
      const bw = x(b.hi) - x(b.lo);
      if (b.accuracy !== null) {
        const r = mk("rect", { class: "dw-regions-acc", x: x(b.lo) + 0.5, y: y1(b.accuracy), width: Math.max(0.5, bw - 1), height: top - (y1(b.accuracy) - T), fill: ACC, "data-accuracy": b.accuracy });
        r.appendChild(mk("title", {}, `confidence ${b.lo.toFixed(2)}–${b.hi.toFixed(2)}: accuracy ${b.accuracy.toFixed(3)}, mean confidence ${b.confidence.toFixed(3)}, ${b.count} patches`));
        svg.appendChild(r);
      }
      if (b.share > 0) {
        const r = mk("rect", { class: "dw-regions-share", x: x(b.lo) + 0.5, y: y2(b.share), width: Math.max(0.5, bw - 1), height: B - y2(b.share), fill: SHARE, "data-share": b.share });
        r.appendChild(mk("title", {}, `confidence ${b.lo.toFixed(2)}–${b.hi.toFixed(2)}: ${(100 * b.share).toFixed(1)} % of patches (${b.count})`));
        svg.appendChild(r);
      }
    });
    svg.appendChild(mk("line", { class: "dw-regions-diagonal", x1: x(0), y1: y1(0), x2: x(1), y2: y1(1), stroke: c.fg, "stroke-dasharray": "5 4", "stroke-width": 1.5 }));
    for (const [ya, yb] of [[T, T + top], [B - low, B]]) svg.appendChild(mk("line", { x1: L, x2: L, y1: ya, y2: yb, stroke: c.border }));
    svg.appendChild(mk("line", { x1: L, x2: W - R, y1: T + top, y2: T + top, stroke: c.border }));
    svg.appendChild(mk("line", { x1: L, x2: W - R, y1: B, y2: B, stroke: c.border }));
    const title = (s, tx, ty, rot) => svg.appendChild(mk("text", { class: "dw-axis-title", x: tx, y: ty, "text-anchor": "middle", "font-size": 11, fill: c.fg, ...(rot ? { transform: `rotate(-90 ${tx} ${ty})` } : {}) }, s));
    title("accuracy", 12, T + top / 2, true);
    title("share", 12, B - low / 2, true);
    title("confidence (top softmax of a patch)", (L + W - R) / 2, H - 4);
    chart.append(
      el("h4", { class: "dw-regions-chart-title", text: reliabilityTitle(model.get("split"), bins.length, model.get("ece")) }),
      svg,
      el("div", { class: "dw-legend" }, [
        ...[[ACC, "accuracy per bin"], [SHARE, "share of patches per bin"]].map(([col, t]) => el("span", { class: "dw-legend-item" }, [el("span", { class: "dw-swatch", style: { background: col, borderRadius: "2px" } }), el("span", { text: t })])),
        el("span", { class: "dw-legend-item" }, [el("span", { text: "- - -" }), el("span", { text: "perfect calibration" })]),
      ]),
    );
  }

  function syncControls() {
    clear(attrSel);
    for (const a of model.get("attributes")) attrSel.appendChild(el("option", { text: a, attrs: { value: a } }));
    const args = model.get("train_args");
    attrSel.value = args.attribute || "";
    patchIn.value = args.patch ?? "";
    posIn.value = args.positions ?? "";
    mapSel.value = model.get("map_kind");
    methodSel.value = model.get("method");
    slider.value = String(model.get("quantile"));
    qText.textContent = quantileText(model.get("quantile"));
    clear(binsSel);
    const b = model.get("bins");
    for (const v of [...new Set([10, 20, 50, 100, b])].sort((p, q) => p - q)) binsSel.appendChild(el("option", { text: v, attrs: { value: v } }));
    binsSel.value = String(b);
    root.setAttribute("data-quantile", String(model.get("quantile")));
    root.setAttribute("data-map", model.get("map_kind"));
  }

  const showJob = jobStatus(model, { root, bar, progress, status, cancelBtn });
  function syncJob() {
    mitigateBtn.disabled = showJob() !== "done";
    root.setAttribute("data-augmentation", model.get("augmentation"));
  }

  function drawAll() {
    syncControls();
    syncJob();
    drawImages();
    drawChart();
    root.setAttribute("data-rendered", model.get("rendered"));
    root.setAttribute("data-focus", String(model.get("focus")));
  }

  // the images' pixels, read once per atlas or shown-list change, for the mitigation previews
  const schedule = atlasRedraw(model, (bitmap) => {
    atlas = bitmap;
    bases = [];
    const { h, w } = dims();
    if (atlas && h && w) {
      const cell = model.get("cell"), cols = model.get("atlas_cols");
      const scratch = document.createElement("canvas");
      scratch.width = scratch.height = cell;
      const ctx = scratch.getContext("2d", { willReadFrequently: true });
      const top = Math.floor((cell - h) / 2), left = Math.floor((cell - w) / 2);
      bases = model.get("shown").map((_, k) => {
        ctx.clearRect(0, 0, cell, cell);
        drawCell(ctx, atlas, k, cols, cell);
        return ctx.getImageData(left, top, w, h).data;
      });
    }
    drawAll();
  });

  const num = (input) => (input.value.trim() === "" || !Number.isFinite(Number(input.value)) ? null : Number(input.value));
  scope.bind(trainBtn, { click: () => model.send({ action: "train", attribute: attrSel.value, patch: num(patchIn), positions: num(posIn) }) });
  scope.bind(cancelBtn, { click: () => model.send({ action: "cancel" }) });
  scope.bind(mitigateBtn, { click: () => model.send({ action: "mitigate", quantile: model.get("quantile"), map_kind: model.get("map_kind"), method: model.get("method") }) });
  scope.bind(mapSel, { change: () => setAndSave("map_kind", mapSel.value) });
  scope.bind(methodSel, { change: () => setAndSave("method", methodSel.value) });
  scope.bind(binsSel, { change: () => setAndSave("bins", Number(binsSel.value)) });
  scope.bind(slider, { input: () => setAndSave("quantile", Number(slider.value)) });
  scope.bind(model, {
    "change:atlas": () => schedule(true),
    "change:shown": () => schedule(),
    "change:pixel_maps": () => schedule(),
    "change:general_map": () => schedule(),
    "change:rendered": () => schedule(),
    "change:focus": () => schedule(),
    "change:reliability": () => schedule(),
    "change:quantile": () => { syncControls(); drawImages(); },
    "change:map_kind": () => schedule(),
    "change:method": syncControls,
    "change:bins": syncControls,
    "change:attributes": syncControls,
    "change:train_args": syncControls,
    "change:state": syncJob,
    "change:progress": syncJob,
    "change:message": syncJob,
    "change:augmentation": syncJob,
    "change:error": () => showError(errorBanner, model.get("error")),
  });
  scope.add(onThemeChange(() => drawChart()));
  showError(errorBanner, model.get("error"));
  schedule();
  return scope.dispose;
}

export default { render };
