// ClusterGallery: style clusters as columns of representatives (DASH's Cluster GAN View). Click
// a column header to pick it as a target style; the sources are the linked selection or the
// clusters ticked "source"; Augment turns their train images toward the picked style. A hint
// line (from the kernel) says how to choose sources and how many, per split, are chosen.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { bind, disposer, clear, el, showError } from "./lib/dom.js";
import { addStyle, ensureStyle } from "./lib/style.js";

const STYLED = ["color", "background", "translate"]; // methods that need a target style

const CSS = `
.dw-clusters .dw-aug-hint { color: var(--dw-fg); margin: 2px 0; }
.dw-clusters .dw-cluster-legend { color: var(--dw-fg-muted); font-size: 11px; margin: 2px 0 6px; max-width: 900px; }
.dw-clusters .dw-cluster-head { color: var(--dw-fg); line-height: 1.3; min-width: 80px; }
.dw-clusters .dw-cluster-col canvas { align-self: center; }
.dw-clusters .dw-cluster-name { font-weight: 600; }
.dw-clusters .dw-cluster-src { font-size: 11px; color: var(--dw-fg); display: flex; align-items: center; gap: 3px; cursor: pointer; }
.dw-clusters .dw-cluster-col.dw-source { outline: 2px dashed var(--dw-accent); outline-offset: -2px; }
`;

/** "98 %" from a share in [0, 1] ("–" when unknown). */
function pct(v) {
  return v === null || v === undefined ? "–" : `${(100 * v).toFixed(0)} %`;
}

/** The header lines of cluster `c` (a row of the kernel's cluster table) and its tooltip. */
export function headerText(c) {
  return {
    lines: [`cluster ${c.cluster}`, `${c.size} images`, `accuracy ${pct(c.accuracy)}`, `${pct(c.top_class_share)} class ${c.top_class}`],
    title:
      `cluster ${c.cluster}: ${c.size} images; the model is right on ${pct(c.accuracy)} of them; ` +
      `${pct(c.top_class_share)} are class ${c.top_class}. Click to pick it as the target style.`,
  };
}

function render({ model, el: host }) {
  ensureStyle();
  addStyle("dw-clusters-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-clusters" });
  host.appendChild(root);
  const k = el("input", { class: "dw-k", attrs: { type: "range", min: 2, max: 20, step: 1, title: "number of clusters" } });
  const kLabel = el("span", { class: "dw-k-label" });
  const method = el("select", { class: "dw-aug-method", title: "augmentation method" });
  const sourceSelect = el("select", { class: "dw-aug-source", title: "where the source images come from" }, [
    el("option", { text: "linked selection", attrs: { value: "selection" } }),
    el("option", { text: "source clusters", attrs: { value: "clusters" } }),
  ]);
  const augment = el("button", { class: "dw-augment", text: "Augment sources", attrs: { type: "button" } });
  const info = el("span", { class: "dw-status dw-aug-info" });
  const cancelBtn = el("button", { class: "dw-cancel", text: "Cancel", attrs: { type: "button", title: "stop training the translator" } });
  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress", title: "training the translator" }, [bar]);
  const toolbar = el("div", { class: "dw-toolbar" }, [
    el("label", { text: "K " }), k, kLabel, el("span", { class: "dw-sep" }),
    el("label", { text: "sources " }), sourceSelect, el("label", { text: "method " }), method,
    augment, progress, cancelBtn, info,
  ]);
  const hint = el("div", { class: "dw-aug-hint" });
  const legend = el("div", { class: "dw-cluster-legend" });
  const errorBanner = el("div", { class: "dw-error" });
  const grid = el("div", { class: "dw-cluster-grid" });
  root.append(toolbar, hint, legend, errorBanner, grid);

  let atlas = null;
  let loads = 0;
  const decodeAtlas = latestAtlas();
  const setAndSave = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  function draw() {
    clear(grid);
    const cell = model.get("cell");
    const cols = model.get("atlas_cols");
    const style = new Set(model.get("style_clusters"));
    const fromClusters = model.get("source") === "clusters";
    const sources = new Set(fromClusters ? model.get("source_clusters") : []);
    let flat = 0;
    model.get("clusters").forEach((c, ci) => {
      const reps = model.get("reps")[ci] || [];
      const { lines, title } = headerText(c);
      const head = el("div", { class: "dw-cluster-head", title }, [
        el("div", { class: "dw-cluster-name", text: lines[0] }),
        el("div", { class: "dw-cluster-size", text: lines[1] }),
        el("div", { class: "dw-cluster-acc", text: lines[2] }),
        el("div", { class: "dw-cluster-top", text: lines[3] }),
      ]);
      const srcBox = el("input", { attrs: { type: "checkbox", "data-source-cluster": c.cluster } });
      srcBox.checked = sources.has(c.cluster);
      const src = el("label", { class: "dw-cluster-src", title: `augment the images of cluster ${c.cluster}` }, [srcBox, el("span", { text: "source" })]);
      const cls = `dw-cluster-col${style.has(c.cluster) ? " dw-picked" : ""}${sources.has(c.cluster) ? " dw-source" : ""}`;
      const col = el("div", { class: cls, attrs: { "data-cluster": c.cluster } }, [head, src]);
      bind(head, { click: () => {
        const now = new Set(model.get("style_clusters"));
        if (now.has(c.cluster)) now.delete(c.cluster);
        else now.add(c.cluster);
        setAndSave("style_clusters", [...now].sort((a, b) => a - b));
      } });
      bind(srcBox, { change: () => {
        const now = new Set(model.get("source") === "clusters" ? model.get("source_clusters") : []);
        if (srcBox.checked) now.add(c.cluster);
        else now.delete(c.cluster);
        model.set("source_clusters", [...now].sort((a, b) => a - b));
        model.set("source", "clusters");
        model.save_changes();
      } });
      for (const idx of reps) {
        const canvas = el("canvas", { class: "dw-cluster-rep", attrs: { "data-index": idx } });
        canvas.width = canvas.height = cell;
        canvas.style.width = canvas.style.height = `${cell}px`; // never stretched to the header's width
        if (atlas) drawCell(canvas.getContext("2d"), atlas, flat, cols, cell);
        flat += 1;
        col.appendChild(canvas);
      }
      grid.appendChild(col);
    });
    const n = model.get("clusters").length;
    legend.textContent =
      `Columns: ${n} style clusters (k-means on ${model.get("version")}'s embeddings of the ${model.get("split") || "all"} images), ` +
      `each showing its ${model.get("n")} images nearest the centre. Header: images · model accuracy · share of the most ` +
      "common class. Click a header to pick the target style (orange frame); tick “source” to augment a cluster's images (dashed frame).";
    syncSources();
    root.setAttribute("data-clusters", String(n));
    root.setAttribute("data-style", [...style].join(","));
  }

  /** The hint line, the info line and whether Augment can run (it needs a source, and a style for style methods). */
  function syncSources() {
    const style = model.get("style_clusters");
    const count = model.get("source_count");
    sourceSelect.value = model.get("source");
    hint.textContent = model.get("source_hint");
    info.textContent = `${count} source image(s) · style ${style.map((s) => "#" + s).join(", ") || "none"}` + (model.get("message") ? ` · ${model.get("message")}` : "");
    const missing = count === 0 ? "no source images yet" : STYLED.includes(model.get("method")) && !style.length ? "no target style picked" : "";
    augment.disabled = Boolean(missing) || model.get("state") === "running";
    augment.title = missing ? `${missing}: ${model.get("source_hint")}` : `augment ${count} train image(s)`;
    root.setAttribute("data-sources", String(count));
  }

  async function loadAtlas() {
    const bitmap = await decodeAtlas(model.get("atlas"));
    if (bitmap === undefined) return; // a newer atlas took over
    atlas = bitmap;
    draw();
    root.setAttribute("data-ready", String(++loads));
  }

  function syncJob() {
    const running = model.get("state") === "running";
    bar.style.width = `${Math.round(100 * model.get("progress"))}%`;
    progress.style.visibility = running ? "visible" : "hidden";
    cancelBtn.style.display = running ? "" : "none";
    syncSources();
    root.setAttribute("data-state", model.get("state"));
    root.setAttribute("data-progress", String(model.get("progress")));
  }

  function syncControls() {
    k.value = String(model.get("k"));
    kLabel.textContent = ` ${model.get("k")} `;
    clear(method);
    for (const m of model.get("methods")) method.appendChild(el("option", { text: m, attrs: { value: m } }));
    method.value = model.get("method");
  }

  scope.bind(k, { input: () => (kLabel.textContent = ` ${k.value} `) });
  scope.bind(k, { change: () => setAndSave("k", Number(k.value)) });
  scope.bind(method, { change: () => setAndSave("method", method.value) });
  scope.bind(sourceSelect, { change: () => setAndSave("source", sourceSelect.value) });
  scope.bind(augment, {
    click: () =>
      model.send({
        action: "augment",
        method: method.value,
        style_clusters: model.get("style_clusters"),
        source: model.get("source"),
        source_clusters: model.get("source_clusters"),
      }),
  });
  scope.bind(cancelBtn, { click: () => model.send({ action: "cancel" }) });

  const handlers = {
    "change:atlas": () => loadAtlas(),
    "change:clusters": () => draw(),
    "change:style_clusters": () => draw(),
    "change:source": () => draw(),
    "change:source_clusters": () => draw(),
    "change:source_hint": () => syncSources(),
    "change:source_count": () => syncSources(),
    "change:message": () => syncSources(),
    "change:k": () => syncControls(),
    "change:method": () => {
      syncControls();
      syncSources();
    },
    "change:made": () => root.setAttribute("data-made", model.get("made").join(",")),
    "change:error": () => showError(errorBanner, model.get("error")),
    "change:state": () => syncJob(),
    "change:progress": () => syncJob(),
  };
  scope.bind(model, handlers);
  syncControls();
  syncJob();
  showError(errorBanner, model.get("error"));
  loadAtlas();
  return scope.dispose;
}

export default { render };
