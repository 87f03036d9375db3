// ImageGallery: the selected images with label, prediction and confidence, paged, sortable and
// filtered; tags (named, saved selections) as chips; CSV export; and a detail panel of the
// focused image (large, its bias mask, its attribution map with a colour bar, its prediction
// under every version). Tag names and class names reach the DOM as text only.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { detailScheduler } from "./lib/detail.js";
import { disposer, clear, downloadText, el, showError } from "./lib/dom.js";
import { bindShortcuts, pageShortcuts } from "./lib/keys.js";
import { addStyle } from "./lib/style.js";
import { showingText } from "./lib/gallery-format.js";
import { QUERY_TRAITS, offlineGallery } from "./lib/gallery-offline.js";
import { readSelection } from "./lib/selection.js";

const CSS = `
.dw-gallery .dw-gallery-grid > .dw-empty { grid-column: 1 / -1; }
.dw-gallery-body { display: flex; gap: 10px; align-items: flex-start; }
.dw-gallery-body > .dw-gallery-grid { flex: 1 1 auto; min-width: 0; }
.dw-gallery-tags { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; margin-bottom: 4px; }
.dw-gallery-tags input.dw-tag-name { width: 120px; padding: 1px 4px; }
.dw-gallery button { font: inherit; padding: 2px 8px; border: 1px solid var(--dw-border); background: var(--dw-bg-alt); color: var(--dw-fg); border-radius: 3px; cursor: pointer; }
.dw-tag-chip { display: inline-flex; align-items: center; border: 1px solid var(--dw-border); border-radius: 10px; background: var(--dw-bg-alt); overflow: hidden; }
.dw-gallery .dw-tag-chip button { border: 0; border-radius: 0; background: transparent; padding: 1px 6px; }
.dw-gallery .dw-tag-chip button.dw-tag-remove { color: var(--dw-fg-muted); border-left: 1px solid var(--dw-border-faint); }
.dw-tag-chip.dw-active { border-color: var(--dw-accent); background: var(--dw-accent-bg); }
.dw-tag-count { color: var(--dw-fg-muted); margin-left: 4px; font-variant-numeric: tabular-nums; }
.dw-gallery-detail { flex: 0 0 auto; width: 356px; border: 1px solid var(--dw-border-faint); border-radius: 3px; padding: 6px; background: var(--dw-bg-alt); }
/* wrong predictions: a red dot beside neutral text (red text misses WCAG contrast in dark themes) */
.dw-gallery .dw-pred.dw-wrong { color: var(--dw-fg); }
.dw-gallery .dw-pred.dw-wrong::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: var(--dw-wrong); margin-right: 4px; vertical-align: middle; }
`;

function options(select, entries, value) {
  clear(select);
  for (const [v, text] of entries) select.appendChild(el("option", { text, attrs: { value: v } }));
  select.value = value;
}

function render({ model, el: host }) {
  addStyle("dw-gallery-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-gallery" });
  host.appendChild(root);
  const setAndSave = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  // ------------------------------------------------------------ toolbar: count, sort, pages
  const sort = el("select", { class: "dw-sort", title: "Sort by" });
  options(sort, [["index", "index"], ["confidence", "confidence"], ["loss", "loss"]], model.get("sort_by"));
  const desc = el("input", { class: "dw-desc", attrs: { type: "checkbox", title: "descending" } });
  const prev = el("button", { class: "dw-prev", text: "‹ Prev", attrs: { type: "button" } });
  const next = el("button", { class: "dw-next", text: "Next ›", attrs: { type: "button" } });
  const pageLabel = el("span", { class: "dw-page" });
  const count = el("span", { class: "dw-count" });
  const exportBtn = el("button", { class: "dw-export", text: "Export CSV", attrs: { type: "button", title: "Download the images shown (all pages) as a CSV table" } });
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
    el("span", { class: "dw-sep" }),
    exportBtn,
  ]);

  // ------------------------------------------------------------ filters
  const filters = {
    filter_label: el("select", { class: "dw-filter-label", title: "Filter by true label" }),
    filter_pred: el("select", { class: "dw-filter-pred", title: "Filter by predicted class" }),
    filter_split: el("select", { class: "dw-filter-split", title: "Filter by split" }),
    filter_correct: el("select", { class: "dw-filter-correct", title: "Filter by correctness" }),
    filter_tag: el("select", { class: "dw-filter-tag", title: "Filter by tag" }),
  };
  const filterBar = el("div", { class: "dw-toolbar dw-gallery-filters" }, [
    el("label", { text: "Filter: label " }),
    filters.filter_label,
    el("label", { text: " predicted " }),
    filters.filter_pred,
    el("label", { text: " split " }),
    filters.filter_split,
    filters.filter_correct,
    el("label", { text: " tag " }),
    filters.filter_tag,
  ]);

  function syncFilters() {
    const classes = model.get("classes").map((c) => [c, c]);
    options(filters.filter_label, [["", "any"], ...classes], model.get("filter_label"));
    options(filters.filter_pred, [["", "any"], ...classes], model.get("filter_pred"));
    options(filters.filter_split, [["", "any"], ["train", "train"], ["val", "val"], ["test", "test"]], model.get("filter_split"));
    options(filters.filter_correct, [["", "correct and wrong"], ["correct", "correct only"], ["wrong", "wrong only"]], model.get("filter_correct"));
    options(filters.filter_tag, [["", "any"], ...model.get("tags").map((t) => [t.name, t.name])], model.get("filter_tag"));
  }

  // ------------------------------------------------------------ tags
  const tagName = el("input", { class: "dw-tag-name", attrs: { type: "text", placeholder: "tag name", maxlength: 64, "aria-label": "tag name" } });
  const tagBtn = el("button", { class: "dw-tag-add", text: "Tag selection", attrs: { type: "button", title: "Save the selected images under this name" } });
  const chips = el("span", { class: "dw-tag-chips" });
  const tagBar = el("div", { class: "dw-gallery-tags" }, [tagName, tagBtn, chips]);

  function renderTags() {
    clear(chips);
    const active = model.get("filter_tag");
    for (const t of model.get("tags")) {
      const chip = el("span", { class: `dw-tag-chip${t.name === active ? " dw-active" : ""}`, attrs: { "data-tag": t.name } }, [
        el(
          "button",
          {
            class: "dw-tag-select",
            attrs: { type: "button" },
            title: `Select the ${t.count} image(s) tagged ${t.name}`,
            on: { click: () => model.send({ action: "select_tag", name: t.name }) },
          },
          [el("span", { text: t.name }), el("span", { class: "dw-tag-count", text: String(t.count) })],
        ),
        el("button", {
          class: "dw-tag-remove",
          text: "×",
          attrs: { type: "button", "aria-label": `remove tag ${t.name}` },
          title: `Remove the tag ${t.name} (its images stay)`,
          on: { click: () => model.send({ action: "untag", name: t.name }) },
        }),
      ]);
      chips.appendChild(chip);
    }
    syncFilters();
  }

  const errorBanner = el("div", { class: "dw-error" });
  const offlineLine = el("div", { class: "dw-status dw-offline", style: { display: "none" } });
  const grid = el("div", { class: "dw-gallery-grid" });
  const detailPanel = el("div", { class: "dw-gallery-detail", style: { display: "none" } });
  root.append(toolbar, filterBar, tagBar, errorBanner, offlineLine, el("div", { class: "dw-gallery-body" }, [grid, detailPanel]));

  let atlas = null;
  let loads = 0;
  const decodeAtlas = latestAtlas();

  // without a kernel the page comes from the engine's image snapshot (lib/gallery-offline.js)
  const offline = offlineGallery(model, () => renderItems());
  scope.add(offline.stop);
  let shownTotal = model.get("total");

  function pages() {
    return Math.max(1, Math.ceil(shownTotal / model.get("page_size")));
  }

  function drawThumb(canvas, k) {
    if (!atlas) return;
    const cell = model.get("cell");
    const cols = model.get("atlas_cols");
    drawCell(canvas.getContext("2d"), atlas, k, cols, cell, canvas.width, canvas.height);
  }

  function renderItems() {
    clear(grid);
    const off = offline.active() ? offline.page() : null;
    if (off && off.error) showError(errorBanner, off.error);
    const items = off ? off.items || [] : model.get("items");
    const total = off ? off.total || 0 : model.get("total");
    const base = off ? off.base || 0 : model.get("base_total");
    if (off && !off.error && off.page !== model.get("page")) model.set("page", off.page); // clamped
    shownTotal = total;
    showOffline(off);
    count.textContent = showingText(total, base);
    root.setAttribute("data-total", String(total));
    root.setAttribute("data-base-total", String(base));
    pageLabel.textContent = ` page ${model.get("page") + 1} / ${pages()} `;
    prev.disabled = model.get("page") <= 0;
    next.disabled = model.get("page") >= pages() - 1;
    exportBtn.disabled = total === 0 || !!off;
    if (!items.length) {
      const text = base
        ? "No images match the filters: choose “any” in a filter to see more."
        : "No images selected: draw a lasso in a linked projection, set view.selection, click a tag, or choose a filter to browse all images.";
      grid.appendChild(el("div", { class: "dw-empty", text }));
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
          on: { click: () => setAndSave("focus", item.index) },
        },
        [
          canvas,
          el("span", { class: "dw-label", text: item.label }),
          el("span", { class: `dw-pred${wrong ? " dw-wrong" : ""}`, text: `→ ${item.pred}` }),
          el("span", { class: "dw-conf", text: `${(100 * item.confidence).toFixed(1)} %` }),
        ],
      );
      grid.appendChild(node);
      if (off) offline.draw(canvas.getContext("2d"), item, canvas.width, canvas.height);
      else drawThumb(canvas, k);
    });
    root.setAttribute("data-items", String(items.length));
  }

  /** Offline: say what works without the kernel, disable what does not (tags, export). */
  function showOffline(off) {
    offlineLine.style.display = off && off.note ? "" : "none";
    offlineLine.textContent = off && off.note ? off.note : "";
    root.setAttribute("data-offline", off ? "1" : "0");
    for (const b of [tagBtn, tagName]) b.disabled = !!off;
  }

  /** Offline, a new query starts at page 0 (as the kernel's gallery does), then renders. */
  function offlineQuery() {
    if (!offline.active()) return;
    if (model.get("page") !== 0) model.set("page", 0);
    renderItems();
  }

  async function loadAtlas() {
    const bitmap = await decodeAtlas(model.get("atlas"));
    if (bitmap === undefined) return; // a newer page arrived meanwhile
    atlas = bitmap;
    renderItems();
    root.setAttribute("data-loaded", String(++loads));
  }

  // ------------------------------------------------------------ detail panel (lib/detail.js)
  const detail = detailScheduler(detailPanel, model, (index) => {
    detailPanel.style.display = index === null ? "none" : "";
    root.setAttribute("data-detail", index === null ? "" : String(index));
  });
  const scheduleDetail = detail.schedule;

  // ------------------------------------------------------------ export (client side, no network)
  let exports = 0;
  function download(msg) {
    if (!msg || msg.type !== "csv") return;
    downloadText(root, msg.name, msg.text);
    root.setAttribute("data-exports", String(++exports));
  }

  // ------------------------------------------------------------ wiring
  scope.bind(sort, { change: () => setAndSave("sort_by", sort.value) });
  scope.bind(desc, { change: () => setAndSave("descending", desc.checked) });
  scope.bind(prev, { click: () => setAndSave("page", Math.max(0, model.get("page") - 1)) });
  scope.bind(next, { click: () => setAndSave("page", Math.min(pages() - 1, model.get("page") + 1)) });
  bindShortcuts(scope, root, pageShortcuts(model, pages), toolbar);
  scope.bind(exportBtn, { click: () => model.send({ action: "export" }) });
  const addTag = () => {
    model.send({ action: "tag", name: tagName.value, form: { selection: Array.from(readSelection(model)) } });
    tagName.value = "";
  };
  scope.bind(tagBtn, { click: addTag });
  scope.bind(tagName, { keydown: (ev) => ev.key === "Enter" && addTag() });
  for (const [name, select] of Object.entries(filters)) {
    scope.bind(select, { change: () => setAndSave(name, select.value) });
  }

  const onError = () => showError(errorBanner, model.get("error"));
  const handlers = {
    "change:items": () => renderItems(),
    "change:focus": () => renderItems(),
    "change:total": () => renderItems(),
    "change:base_total": () => renderItems(),
    "change:atlas": () => loadAtlas(),
    "change:error": onError,
    "change:sort_by": () => (sort.value = model.get("sort_by")),
    "change:descending": () => (desc.checked = model.get("descending")),
    "change:tags": () => renderTags(),
    "change:classes": () => syncFilters(),
    "change:detail": scheduleDetail,
    "change:detail_image": scheduleDetail,
    "change:detail_mask": scheduleDetail,
    "change:detail_heat": scheduleDetail,
    "msg:custom": (msg) => download(msg),
    "change:page": () => offline.active() && renderItems(),
  };
  for (const name of Object.keys(filters)) {
    handlers[`change:${name}`] = () => {
      filters[name].value = model.get(name);
      if (name === "filter_tag") renderTags();
    };
  }
  for (const t of QUERY_TRAITS) {
    const live = handlers[`change:${t}`];
    handlers[`change:${t}`] = live ? (...a) => (live(...a), offlineQuery()) : offlineQuery;
  }
  scope.bind(model, handlers);

  desc.checked = model.get("descending");
  renderTags();
  onError();
  detail.now();
  loadAtlas();
  return scope.dispose;
}

export default { render };
