// AugmentedView: originals beside augmented images; click a pair to reject / accept it before
// retraining; accepted images per class; the augmentation history.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { bind, disposer, clear, el, showError } from "./lib/dom.js";
import { bindShortcuts, pageShortcuts } from "./lib/keys.js";
import { ensureStyle } from "./lib/style.js";

function styleText(s) {
  return s ? `cluster ${s.cluster} (k=${s.k}, ${s.version})` : "no style";
}

function render({ model, el: host }) {
  ensureStyle();
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-augmented" });
  host.appendChild(root);
  const pick = el("select", { class: "dw-aug-pick", title: "augmentation" });
  const prev = el("button", { class: "dw-prev", text: "‹ Prev", attrs: { type: "button" } });
  const next = el("button", { class: "dw-next", text: "Next ›", attrs: { type: "button" } });
  const pageLabel = el("span", { class: "dw-page" });
  const counts = el("span", { class: "dw-status dw-aug-counts" });
  const toolbar = el("div", { class: "dw-toolbar" }, [pick, prev, pageLabel, next, counts]);
  const errorBanner = el("div", { class: "dw-error" });
  const grid = el("div", { class: "dw-pair-grid" });
  const summary = el("div", { class: "dw-aug-summary" });
  const history = el("table", { class: "dw-versions dw-aug-history" });
  root.append(toolbar, errorBanner, grid, el("div", { class: "dw-board-body" }, [summary, history]));

  let atlas = null;
  let loads = 0;
  const decodeAtlas = latestAtlas();
  const pages = () => Math.max(1, Math.ceil(model.get("total") / model.get("page_size")));
  const setAndSave = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  function drawPairs() {
    clear(grid);
    const cell = model.get("cell");
    const cols = model.get("atlas_cols");
    const pairs = model.get("pairs");
    if (!pairs.length) grid.appendChild(el("div", { class: "dw-empty", text: "No augmentation yet: in a ClusterGallery choose sources (a linked lasso or source clusters) and a target style, then press Augment sources." }));
    pairs.forEach((p, k) => {
      const canvases = [0, 1].map((j) => {
        const c = el("canvas");
        c.width = c.height = cell;
        if (atlas) drawCell(c.getContext("2d"), atlas, 2 * k + j, cols, cell);
        return c;
      });
      const node = el(
        "div",
        { class: `dw-pair${p.accepted ? "" : " dw-rejected"}`, attrs: { "data-row": p.row, "data-source": p.source, "data-accepted": p.accepted ? "1" : "0" }, title: `source #${p.source}: click to ${p.accepted ? "reject" : "accept"}` },
        [el("div", { class: "dw-pair-imgs" }, canvases), el("span", { class: "dw-label", text: p.label }), el("span", { class: "dw-pair-state", text: p.accepted ? "accepted" : "rejected" })],
      );
      bind(node, { click: () => model.send({ action: "toggle", row: p.row }) });
      grid.appendChild(node);
    });
    pageLabel.textContent = ` page ${model.get("page") + 1} / ${pages()} `;
    prev.disabled = model.get("page") <= 0;
    next.disabled = model.get("page") >= pages() - 1;
  }

  function drawSide() {
    clear(pick);
    const hist = model.get("history");
    for (const h of hist) pick.appendChild(el("option", { text: `${h.id} · ${h.method} · ${styleText(h.style)}`, attrs: { value: h.id } }));
    pick.value = model.get("augmentation");
    const cur = hist.find((h) => h.id === model.get("augmentation"));
    counts.textContent = cur ? `${cur.accepted} of ${cur.images} accepted` : "";
    clear(summary);
    summary.appendChild(el("div", { class: "dw-chart-title", text: "accepted per class" }));
    for (const s of model.get("summary")) summary.appendChild(el("div", { class: "dw-aug-class", text: `${s.class}: ${s.images}` }));
    clear(history);
    history.appendChild(el("tr", {}, ["augmentation", "method", "target style", "images", "accepted", "created"].map((t) => el("th", { text: t }))));
    for (const h of hist) {
      history.appendChild(
        el("tr", { attrs: { "data-augmentation": h.id } }, [
          el("td", { text: h.id }),
          el("td", { text: h.method }),
          el("td", { text: styleText(h.style) }),
          el("td", { text: String(h.images) }),
          el("td", { text: String(h.accepted) }),
          el("td", { text: h.created }),
        ]),
      );
    }
    root.setAttribute("data-history", hist.map((h) => h.id).join(","));
    root.setAttribute("data-accepted", cur ? String(cur.accepted) : "0");
  }

  async function loadAtlas() {
    const bitmap = await decodeAtlas(model.get("atlas"));
    if (bitmap === undefined) return; // a newer atlas took over
    atlas = bitmap;
    drawPairs();
    root.setAttribute("data-ready", String(++loads));
  }

  scope.bind(pick, { change: () => setAndSave("augmentation", pick.value) });
  scope.bind(prev, { click: () => setAndSave("page", Math.max(0, model.get("page") - 1)) });
  scope.bind(next, { click: () => setAndSave("page", Math.min(pages() - 1, model.get("page") + 1)) });
  bindShortcuts(scope, root, pageShortcuts(model, pages, { clearSelection: false }), toolbar);
  const handlers = {
    "change:atlas": () => loadAtlas(),
    "change:pairs": () => drawPairs(),
    "change:history": () => drawSide(),
    "change:summary": () => drawSide(),
    "change:augmentation": () => drawSide(),
    "change:error": () => showError(errorBanner, model.get("error")),
  };
  scope.bind(model, handlers);
  drawSide();
  showError(errorBanner, model.get("error"));
  loadAtlas();
  return scope.dispose;
}

export default { render };
