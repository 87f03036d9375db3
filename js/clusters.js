// ClusterGallery: style clusters as columns of representatives (DASH's Cluster GAN View). Click
// a column header to pick it as a target style; Augment turns the linked selection toward it.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { bind, disposer, clear, el, showError } from "./lib/dom.js";
import { ensureStyle } from "./lib/style.js";

function render({ model, el: host }) {
  ensureStyle();
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-clusters" });
  host.appendChild(root);
  const k = el("input", { class: "dw-k", attrs: { type: "range", min: 2, max: 20, step: 1, title: "number of clusters" } });
  const kLabel = el("span", { class: "dw-k-label" });
  const method = el("select", { class: "dw-aug-method", title: "augmentation method" });
  const augment = el("button", { class: "dw-augment", text: "Augment selection", attrs: { type: "button" } });
  const info = el("span", { class: "dw-status dw-aug-info" });
  const cancelBtn = el("button", { class: "dw-cancel", text: "Cancel", attrs: { type: "button", title: "stop training the translator" } });
  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress", title: "training the translator" }, [bar]);
  const toolbar = el("div", { class: "dw-toolbar" }, [el("label", { text: "K " }), k, kLabel, el("span", { class: "dw-sep" }), el("label", { text: "method " }), method, augment, progress, cancelBtn, info]);
  const errorBanner = el("div", { class: "dw-error" });
  const grid = el("div", { class: "dw-cluster-grid" });
  root.append(toolbar, errorBanner, grid);

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
    let flat = 0;
    model.get("clusters").forEach((c, ci) => {
      const reps = model.get("reps")[ci] || [];
      const head = el("div", { class: "dw-cluster-head", title: `cluster ${c.cluster}: pick as target style` }, [
        el("div", { class: "dw-cluster-name", text: `#${c.cluster} · ${c.size}` }),
        el("div", { class: "dw-cluster-acc", text: `acc ${c.accuracy === null ? "–" : (100 * c.accuracy).toFixed(0) + "%"}` }),
        el("div", { class: "dw-cluster-top", text: `${c.top_class} ${(100 * c.top_class_share).toFixed(0)}%` }),
      ]);
      const col = el("div", { class: `dw-cluster-col${style.has(c.cluster) ? " dw-picked" : ""}`, attrs: { "data-cluster": c.cluster } }, [head]);
      bind(head, { click: () => {
        const now = new Set(model.get("style_clusters"));
        if (now.has(c.cluster)) now.delete(c.cluster);
        else now.add(c.cluster);
        setAndSave("style_clusters", [...now].sort((a, b) => a - b));
      } });
      for (const idx of reps) {
        const canvas = el("canvas", { class: "dw-cluster-rep", attrs: { "data-index": idx } });
        canvas.width = canvas.height = cell;
        if (atlas) drawCell(canvas.getContext("2d"), atlas, flat, cols, cell);
        flat += 1;
        col.appendChild(canvas);
      }
      grid.appendChild(col);
    });
    const sel = model.get("selection").length;
    info.textContent = `${sel} source image(s) selected · style ${[...style].map((s) => "#" + s).join(", ") || "none"} · ${model.get("message")}`;
    augment.disabled = sel === 0 || model.get("state") === "running";
    root.setAttribute("data-clusters", String(model.get("clusters").length));
    root.setAttribute("data-style", [...style].join(","));
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
    augment.disabled = running || model.get("selection").length === 0;
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
  scope.bind(augment, { click: () => model.send({ action: "augment", method: method.value, style_clusters: model.get("style_clusters") }) });
  scope.bind(cancelBtn, { click: () => model.send({ action: "cancel" }) });

  const handlers = {
    "change:atlas": () => loadAtlas(),
    "change:clusters": () => draw(),
    "change:style_clusters": () => draw(),
    "change:selection": () => draw(),
    "change:message": () => draw(),
    "change:k": () => syncControls(),
    "change:method": () => syncControls(),
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
