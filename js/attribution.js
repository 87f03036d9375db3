// AttributionGrid: one column per selected image, rows original / heatmap / overlay (DASH layout).
// The kernel sends the page's images (PNG atlas) and heatmaps (uint8 buffer); colormap and
// opacity are applied here, so changing them never asks the kernel.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { getArray } from "./lib/binary.js";
import { lutColor, paintColorbar } from "./lib/colorbar.js";
import { colormapLut, paintHeat } from "./lib/colors.js";
import { disposer, clear, el, showError } from "./lib/dom.js";
import { bindShortcuts, pageShortcuts } from "./lib/keys.js";
import { addStyle } from "./lib/style.js";

const METHOD_NAMES = { gradcam: "Grad-CAM", scorecam: "Score-CAM", ig: "Integrated Gradients", lrp: "ε-LRP" };
const CAM = new Set(["gradcam", "scorecam"]);
const BAR_W = 140, BAR_H = 10;

// The toolbar wraps between groups, never inside one; the grid scrolls sideways inside the view
// (it never grows the output area, which would clip its last columns), with a visible scrollbar.
const CSS = `
.dw-attribution { max-width: 100%; min-width: 0; box-sizing: border-box; }
.dw-attr-toolbar { row-gap: 4px; column-gap: 12px; }
.dw-attr-group { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; flex: none; }
.dw-attribution .dw-attr-grid { max-width: 100%; box-sizing: border-box; scrollbar-width: thin; scrollbar-color: var(--dw-border) transparent; }
.dw-attr-colorbar { display: inline-flex; align-items: center; gap: 4px; }
.dw-attr-colorbar canvas { display: block; border: 1px solid var(--dw-border); }
.dw-attr-scroll-note { color: var(--dw-fg-muted); }
.dw-attribution .dw-attr-rowhead { position: sticky; left: 0; z-index: 1; align-self: stretch; background: var(--dw-bg); padding-right: 4px; }
.dw-attribution .dw-pred.dw-wrong { color: var(--dw-fg); }
.dw-attr-head .dw-attr-wrong-dot { display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: var(--dw-wrong); margin-right: 3px; vertical-align: middle; }
.dw-attr-head .dw-pred span.dw-pred-text { display: inline; }
`;

function options(select, values, names = {}) {
  clear(select);
  for (const v of values) select.appendChild(el("option", { text: names[v] || v, attrs: { value: v } }));
}

function fmt(v) {
  return v === null || v === undefined ? "–" : v.toFixed(2).replace(/^0\./, ".");
}

function render({ model, el: host }) {
  addStyle("dw-attribution-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-attribution" });
  host.appendChild(root);

  const method = el("select", { class: "dw-method", title: "Attribution method" });
  const layer = el("select", { class: "dw-layer", title: "Conv layer (CAM methods)" });
  const target = el("select", { class: "dw-target", title: "Explain which class" });
  options(target, ["pred", "label"], { pred: "predicted class", label: "true label" });
  const cmap = el("select", { class: "dw-colormap", title: "Colormap" });
  options(cmap, ["jet", "viridis", "inferno", "gray"]);
  const opacity = el("input", { class: "dw-opacity", attrs: { type: "range", min: 0, max: 1, step: 0.05, title: "Overlay opacity" } });
  const prev = el("button", { class: "dw-prev", text: "‹ Prev", attrs: { type: "button" } });
  const next = el("button", { class: "dw-next", text: "Next ›", attrs: { type: "button" } });
  const pageLabel = el("span", { class: "dw-page" });
  const count = el("span", { class: "dw-count" });
  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress", title: "computing maps" }, [bar]);
  const layerLabel = el("label", { text: "layer" });
  const group = (children) => el("span", { class: "dw-attr-group" }, children);
  const toolbar = el("div", { class: "dw-toolbar dw-attr-toolbar" }, [
    group([count]),
    group([method, layerLabel, layer]),
    group([el("label", { text: "explain" }), target]),
    group([cmap, el("label", { text: "opacity" }), opacity]),
    group([prev, pageLabel, next, progress]),
  ]);
  const barCanvas = el("canvas", { class: "dw-attr-colorbar-canvas" });
  const scrollNote = el("span", { class: "dw-attr-scroll-note" });
  const colorbar = el("div", { class: "dw-legend dw-attr-legend" }, [
    el("span", { class: "dw-attr-colorbar", title: "heatmap colours: |relevance| scaled per image to its 99.5th percentile" }, [
      el("span", { text: "relevance: low" }),
      barCanvas,
      el("span", { text: "high" }),
    ]),
    el("span", { class: "dw-legend-note", text: "|relevance| per image, scaled to its 99.5th percentile · red border, red dot: misclassified · accent border: focused image" }),
    scrollNote,
  ]);
  const errorBanner = el("div", { class: "dw-error" });
  const grid = el("div", { class: "dw-attr-grid" });
  root.append(toolbar, errorBanner, colorbar, grid);

  let atlas = null; // ImageBitmap of the page's images
  let loads = 0;
  const decodeAtlas = latestAtlas();
  let bases = []; // RGBA pixels of each image at cell size, for the overlay

  const pages = () => Math.max(1, Math.ceil(model.get("total") / model.get("page_size")));
  const setAndSave = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  function syncControls() {
    options(method, model.get("methods"), METHOD_NAMES);
    method.value = model.get("method");
    options(layer, ["", ...model.get("layers")], { "": "last conv" });
    layer.value = model.get("layer");
    const cam = CAM.has(model.get("method"));
    layer.style.display = layerLabel.style.display = cam ? "" : "none";
    target.value = model.get("target");
    cmap.value = model.get("colormap");
    opacity.value = String(model.get("opacity"));
  }

  function drawRows() {
    const cell = model.get("cell");
    // [n, cell, cell]; the empty default before the first page is [0, 0, 0]
    const { data: heat, shape } = getArray(model, "heat", "uint8", [null, null, null]);
    if (heat.length && (shape[1] !== cell || shape[2] !== cell)) {
      throw new Error(`heat: expected [*, ${cell}, ${cell}] maps (the cell size), got [${shape.join(", ")}]`);
    }
    const lut = colormapLut(model.get("colormap"));
    const alpha = model.get("opacity");
    grid.querySelectorAll(".dw-attr-col").forEach((col, k) => {
      const [orig, hm, over] = col.querySelectorAll("canvas");
      const h = heat.subarray(k * cell * cell, (k + 1) * cell * cell);
      if (h.length === cell * cell) {
        let sum = 0;
        for (let p = 0; p < h.length; p++) sum += h[p];
        col.setAttribute("data-heat-sum", String(sum));
        const img = hm.getContext("2d").createImageData(cell, cell);
        paintHeat(h, lut, img.data);
        hm.getContext("2d").putImageData(img, 0, 0);
        if (bases[k]) {
          const o = over.getContext("2d").createImageData(cell, cell);
          paintHeat(h, lut, o.data, bases[k], alpha);
          over.getContext("2d").putImageData(o, 0, 0);
        }
      }
      if (atlas) drawCell(orig.getContext("2d"), atlas, k, model.get("atlas_cols"), cell);
    });
    drawColorbar(lut);
    root.setAttribute("data-colormap", model.get("colormap"));
    root.setAttribute("data-opacity", String(alpha));
  }

  function drawColorbar(lut) {
    paintColorbar(barCanvas, BAR_W, BAR_H, lutColor(lut));
    barCanvas.setAttribute("data-colormap", model.get("colormap"));
  }

  function noteScroll() {
    const hidden = grid.scrollWidth - grid.clientWidth;
    scrollNote.textContent = hidden > 1 ? "scroll sideways for more images →" : "";
    root.setAttribute("data-scrollable", hidden > 1 ? "1" : "0");
  }

  function renderItems() {
    clear(grid);
    const items = model.get("items");
    const total = model.get("total");
    const cell = model.get("cell");
    count.textContent = `${total.toLocaleString()} selected`;
    pageLabel.textContent = ` page ${model.get("page") + 1} / ${pages()} `;
    prev.disabled = model.get("page") <= 0;
    next.disabled = model.get("page") >= pages() - 1;
    if (!items.length) {
      grid.appendChild(el("div", { class: "dw-empty", text: "No images selected: draw a lasso in a linked projection, or set view.selection." }));
      root.setAttribute("data-items", "0");
      root.setAttribute("data-rendered", model.get("rendered"));
      root.setAttribute("data-focus", "-1");
      colorbar.style.display = "none"; // no heatmap to explain
      noteScroll();
      return;
    }
    const masks = Object.keys(items[0]).filter((k) => k.startsWith("rma_")).map((k) => k.slice(4));
    grid.appendChild(
      el("div", { class: "dw-attr-rowhead" }, [
        el("span", { text: "" }),
        el("span", { text: "original" }),
        el("span", { text: "heatmap" }),
        el("span", { text: "overlay" }),
        el("span", { class: "dw-metrics-head", text: masks.length ? "RMA RRA" : "", title: "relevance mass / rank accuracy per ground-truth mask" }),
      ]),
    );
    grid.style.setProperty("--dw-cell", `${cell}px`);
    const focus = model.get("focus");
    for (const item of items) {
      const canvases = [0, 1, 2].map(() => {
        const c = el("canvas");
        c.width = c.height = cell;
        return c;
      });
      const metrics = el("div", { class: "dw-metrics" });
      for (const mask of masks) {
        const rma = item[`rma_${mask}`], rra = item[`rra_${mask}`];
        metrics.appendChild(
          el("span", {
            class: "dw-metric",
            attrs: { "data-mask": mask },
            title: `${mask} mask: RMA ${fmt(rma)} (share of relevance inside), RRA ${fmt(rra)} (share of the top pixels inside)`,
            text: `${mask === "object" ? "obj" : mask.slice(0, 4)} ${fmt(rma)} ${fmt(rra)}`,
          }),
        );
      }
      const wrong = !item.correct;
      grid.appendChild(
        el(
          "div",
          {
            class: `dw-attr-col${wrong ? " dw-wrong" : ""}${item.index === focus ? " dw-focus" : ""}`,
            attrs: { "data-index": item.index, ...(item.index === focus ? { "aria-current": "true" } : {}) },
            style: { width: `${cell}px` },
            title: `#${item.index}`,
            on: { click: () => setAndSave("focus", item.index) },
          },
          [
            el("div", { class: "dw-attr-head" }, [
              el("span", { class: "dw-label", text: item.label }),
              el("span", { class: `dw-pred${wrong ? " dw-wrong" : ""}`, title: wrong ? "misclassified" : "" }, [
                wrong ? el("span", { class: "dw-attr-wrong-dot" }) : null,
                el("span", { class: "dw-pred-text", text: `→ ${item.pred} ${(100 * item.confidence).toFixed(0)}%` }),
              ]),
            ]),
            ...canvases,
            metrics,
          ],
        ),
      );
    }
    colorbar.style.display = "";
    drawRows();
    root.setAttribute("data-items", String(items.length));
    root.setAttribute("data-rendered", model.get("rendered"));
    root.setAttribute("data-focus", String(items.some((it) => it.index === focus) ? focus : -1));
    noteScroll();
  }

  // Images, items and heatmaps arrive together (one kernel message, several change events):
  // refresh once after the burst, decoding the atlas only when it changed.
  let atlasDirty = true;
  let scheduled = false;
  function schedule(atlasChanged = false) {
    atlasDirty = atlasDirty || atlasChanged;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(refresh);
  }

  async function refresh() {
    scheduled = false;
    if (atlasDirty) {
      atlasDirty = false;
      const bitmap = await decodeAtlas(model.get("atlas"));
      if (bitmap === undefined) return; // a newer atlas took over
      atlas = bitmap;
      root.setAttribute("data-loaded", String(++loads));
    }
    const cell = model.get("cell");
    const cols = model.get("atlas_cols");
    const scratch = document.createElement("canvas");
    scratch.width = scratch.height = cell;
    const ctx = scratch.getContext("2d", { willReadFrequently: true });
    bases = !atlas
      ? []
      : model.get("items").map((_, k) => {
          ctx.clearRect(0, 0, cell, cell);
          drawCell(ctx, atlas, k, cols, cell);
          return ctx.getImageData(0, 0, cell, cell).data;
        });
    renderItems();
  }

  function showProgress() {
    const p = model.get("progress");
    bar.style.width = `${Math.round(100 * p)}%`;
    progress.style.visibility = p < 1 ? "visible" : "hidden";
    root.setAttribute("data-progress", String(p));
  }

  scope.bind(method, { change: () => setAndSave("method", method.value) });
  scope.bind(layer, { change: () => setAndSave("layer", layer.value) });
  scope.bind(target, { change: () => setAndSave("target", target.value) });
  scope.bind(cmap, { change: () => setAndSave("colormap", cmap.value) });
  scope.bind(opacity, { input: () => setAndSave("opacity", Number(opacity.value)) });
  scope.bind(prev, { click: () => setAndSave("page", Math.max(0, model.get("page") - 1)) });
  scope.bind(next, { click: () => setAndSave("page", Math.min(pages() - 1, model.get("page") + 1)) });
  bindShortcuts(scope, root, pageShortcuts(model, pages), toolbar);

  const handlers = {
    "change:atlas": () => schedule(true),
    "change:heat": () => schedule(),
    "change:items": () => schedule(),
    "change:rendered": () => schedule(),
    "change:focus": () => schedule(),
    "change:colormap": () => (syncControls(), drawRows()),
    "change:opacity": () => (syncControls(), drawRows()),
    "change:method": () => syncControls(),
    "change:layer": () => syncControls(),
    "change:layers": () => syncControls(),
    "change:target": () => syncControls(),
    "change:progress": () => showProgress(),
    "change:error": () => showError(errorBanner, model.get("error")),
  };
  scope.bind(model, handlers);

  const observer = new ResizeObserver(() => noteScroll());
  observer.observe(grid);
  scope.add(() => observer.disconnect());
  syncControls();
  showProgress();
  showError(errorBanner, model.get("error"));
  schedule(true);

  return scope.dispose;
}

export default { render };
