// ImageGallery: the selected images with label, prediction and confidence, paged and sortable.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { disposer, clear, el, showError } from "./lib/dom.js";
import { ensureStyle } from "./lib/style.js";

function render({ model, el: host }) {
  ensureStyle();
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-gallery" });
  host.appendChild(root);

  const sort = el("select", { class: "dw-sort", title: "Sort by" });
  for (const [value, text] of [["index", "index"], ["confidence", "confidence"], ["loss", "loss"]]) {
    sort.appendChild(el("option", { text, attrs: { value } }));
  }
  const desc = el("input", { class: "dw-desc", attrs: { type: "checkbox", title: "descending" } });
  const prev = el("button", { class: "dw-prev", text: "‹ Prev", attrs: { type: "button" } });
  const next = el("button", { class: "dw-next", text: "Next ›", attrs: { type: "button" } });
  const pageLabel = el("span", { class: "dw-page" });
  const count = el("span", { class: "dw-count" });
  const toolbar = el("div", { class: "dw-toolbar" }, [
    count,
    el("span", { class: "dw-sep" }),
    el("label", { text: "Sort " }),
    sort,
    el("label", {}, [desc, el("span", { text: " descending" })]),
    el("span", { class: "dw-sep" }),
    prev,
    pageLabel,
    next,
  ]);
  const errorBanner = el("div", { class: "dw-error" });
  const grid = el("div", { class: "dw-gallery-grid" });
  root.append(toolbar, errorBanner, grid);

  let atlas = null;
  let loads = 0;
  const decodeAtlas = latestAtlas();

  function pages() {
    return Math.max(1, Math.ceil(model.get("total") / model.get("page_size")));
  }

  function drawThumb(canvas, k) {
    if (!atlas) return;
    const cell = model.get("cell");
    const cols = model.get("atlas_cols");
    drawCell(canvas.getContext("2d"), atlas, k, cols, cell, canvas.width, canvas.height);
  }

  function renderItems() {
    clear(grid);
    const items = model.get("items");
    const total = model.get("total");
    count.textContent = `${total.toLocaleString()} selected`;
    pageLabel.textContent = ` page ${model.get("page") + 1} / ${pages()} `;
    prev.disabled = model.get("page") <= 0;
    next.disabled = model.get("page") >= pages() - 1;
    if (!items.length) {
      grid.appendChild(el("div", { class: "dw-empty", text: "No images selected: draw a lasso in a linked projection, or set view.selection." }));
      root.setAttribute("data-items", "0");
      return;
    }
    const focus = model.get("focus");
    items.forEach((item, k) => {
      const canvas = el("canvas");
      canvas.width = canvas.height = model.get("cell");
      const wrong = !item.correct;
      const node = el(
        "div",
        {
          class: `dw-gallery-item${wrong ? " dw-wrong" : ""}${item.index === focus ? " dw-focus" : ""}`,
          attrs: { "data-index": item.index },
          title: `#${item.index}`,
          on: {
            click: () => {
              model.set("focus", item.index);
              model.save_changes();
            },
          },
        },
        [
          canvas,
          el("span", { class: "dw-label", text: item.label }),
          el("span", { class: `dw-pred${wrong ? " dw-wrong" : ""}`, text: `→ ${item.pred}` }),
          el("span", { class: "dw-conf", text: `${(100 * item.confidence).toFixed(1)} %` }),
        ],
      );
      grid.appendChild(node);
      drawThumb(canvas, k);
    });
    root.setAttribute("data-items", String(items.length));
  }

  async function loadAtlas() {
    const bitmap = await decodeAtlas(model.get("atlas"));
    if (bitmap === undefined) return; // a newer page arrived meanwhile
    atlas = bitmap;
    renderItems();
    root.setAttribute("data-loaded", String(++loads));
  }

  scope.bind(sort, { change: () => {
    model.set("sort_by", sort.value);
    model.save_changes();
  } });
  scope.bind(desc, { change: () => {
    model.set("descending", desc.checked);
    model.save_changes();
  } });
  scope.bind(prev, { click: () => {
    model.set("page", Math.max(0, model.get("page") - 1));
    model.save_changes();
  } });
  scope.bind(next, { click: () => {
    model.set("page", Math.min(pages() - 1, model.get("page") + 1));
    model.save_changes();
  } });

  const onError = () => showError(errorBanner, model.get("error"));
  scope.bind(model, {
    "change:items": () => renderItems(),
    "change:focus": () => renderItems(),
    "change:total": () => renderItems(),
    "change:atlas": () => loadAtlas(),
    "change:error": onError,
    "change:sort_by": () => (sort.value = model.get("sort_by")),
    "change:descending": () => (desc.checked = model.get("descending")),
  });

  sort.value = model.get("sort_by");
  desc.checked = model.get("descending");
  onError();
  loadAtlas();
  return scope.dispose;
}

export default { render };
