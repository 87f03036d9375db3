// SubgroupPanel (VisCUIT Figure 1A): the under-performing subgroups, worst first, each a row of its
// images (a × marks a wrong prediction); a picked subgroup beside its paired well-performing one
// with both confusion matrices (one shared colour scale and colour bar); a Grad-CAM window of a
// clicked image (lib/detail.js, the gallery's detail panel). Class names reach the DOM as text only.

import { drawCell, latestAtlas } from "./lib/atlas.js";
import { paintColorbar } from "./lib/colorbar.js";
import { sequential } from "./lib/colors.js";
import { detailScheduler } from "./lib/detail.js";
import { clear, disposer, el, showError } from "./lib/dom.js";
import { addStyle } from "./lib/style.js";
import { countColor, cssRgb, inkOn, pct } from "./lib/subgroup-format.js";

const CSS = `
.dw-sg-header { font-weight: 600; margin: 2px 0; }
.dw-sg-legend { color: var(--dw-fg-muted); margin-bottom: 4px; display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; }
.dw-sg-rows { display: flex; flex-direction: column; gap: 4px; }
.dw-sg-row { display: flex; gap: 8px; align-items: center; border: 2px solid var(--dw-border-faint); border-radius: 3px; padding: 3px; background: var(--dw-bg-alt); cursor: pointer; }
.dw-sg-row.dw-picked { border-color: var(--dw-accent); background: var(--dw-accent-bg); }
.dw-sg-row.dw-sg-pair { cursor: default; }
.dw-sg-head { flex: 0 0 150px; display: flex; flex-direction: column; font-variant-numeric: tabular-nums; }
.dw-sg-head .dw-sg-id { font-weight: 600; }
.dw-sg-head span { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dw-sg-thumbs { display: flex; flex-wrap: wrap; gap: 3px; align-items: center; }
.dw-sg-thumb { position: relative; border: 2px solid transparent; border-radius: 2px; cursor: pointer; line-height: 0; }
.dw-sg-thumb.dw-focus { border-color: var(--dw-accent); }
.dw-sg-thumb canvas { width: 40px; height: 40px; image-rendering: pixelated; display: block; }
.dw-sg-more { color: var(--dw-fg-muted); margin-left: 4px; white-space: nowrap; }
.dw-sg-row.dw-picked .dw-sg-more { color: var(--dw-fg); } /* muted text on the accent tint is under 4.5:1 */
/* a wrong prediction: a × shape (not colour alone) on a theme-coloured disc, so it reads on any image */
.dw-sg-x { position: absolute; top: -3px; right: -3px; width: 13px; height: 13px; border-radius: 50%; background: var(--dw-bg); border: 1.5px solid var(--dw-wrong); box-sizing: border-box; }
.dw-sg-x::before, .dw-sg-x::after { content: ""; position: absolute; left: 50%; top: 50%; width: 8px; height: 2px; background: var(--dw-wrong); }
.dw-sg-x::before { transform: translate(-50%, -50%) rotate(45deg); }
.dw-sg-x::after { transform: translate(-50%, -50%) rotate(-45deg); }
.dw-sg-legend .dw-sg-x { position: relative; top: 0; right: 0; display: inline-block; vertical-align: middle; margin-right: 4px; }
.dw-sg-picked { margin-top: 8px; border-top: 1px solid var(--dw-border-faint); padding-top: 6px; }
.dw-sg-title { font-weight: 600; margin: 4px 0; }
.dw-sg-matrices { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; margin-top: 6px; }
.dw-sg-matrix { display: flex; flex-direction: column; gap: 2px; }
.dw-sg-grid { display: grid; gap: 1px; font-variant-numeric: tabular-nums; font-size: 11px; }
.dw-sg-grid > div { display: flex; align-items: center; justify-content: center; overflow: hidden; }
.dw-sg-axis { color: var(--dw-fg-muted); }
.dw-sg-ytitle { writing-mode: vertical-rl; transform: rotate(180deg); }
.dw-sg-tick { color: var(--dw-fg); white-space: nowrap; text-overflow: ellipsis; }
.dw-sg-tick.dw-sg-col { writing-mode: vertical-rl; transform: rotate(180deg); max-height: 70px; justify-content: flex-start; }
.dw-sg-tick.dw-sg-rowtick { justify-content: flex-end; padding-right: 3px; max-width: 90px; }
.dw-sg-cell { width: 24px; height: 22px; background: var(--dw-bg); color: var(--dw-fg-muted); }
.dw-sg-cell.dw-sg-diag { box-shadow: inset 0 0 0 1px var(--dw-fg); }
.dw-sg-cbar { display: flex; flex-direction: column; gap: 1px; margin-top: 6px; }
.dw-sg-cbar-ticks { display: flex; justify-content: space-between; width: 200px; color: var(--dw-fg-muted); font-variant-numeric: tabular-nums; }
.dw-sg-note { color: var(--dw-fg-muted); max-width: 640px; }
.dw-sg-detail { margin-top: 8px; border: 1px solid var(--dw-border); border-radius: 3px; padding: 6px; background: var(--dw-bg-alt); max-width: 560px; }
.dw-sg-detail-bar { display: flex; justify-content: space-between; align-items: center; margin-bottom: 4px; }
.dw-subgroups button { font: inherit; padding: 2px 8px; border: 1px solid var(--dw-border); background: var(--dw-bg-alt); color: var(--dw-fg); border-radius: 3px; cursor: pointer; }
.dw-sg-k { width: 56px; }
`;

function render({ model, el: host }) {
  addStyle("dw-subgroups-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-subgroups" });
  host.appendChild(root);
  const setAndSave = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };

  // ------------------------------------------------------------ toolbar: what is clustered
  const split = el("select", { class: "dw-sg-split", title: "Split whose images are clustered" });
  for (const [v, t] of [["test", "test"], ["val", "val"], ["train", "train"], ["", "all images"]]) split.appendChild(el("option", { text: t, attrs: { value: v } }));
  const method = el("select", { class: "dw-sg-method", title: "Clustering method" });
  for (const [v, t] of [["kmeans", "k-means"], ["hierarchical", "hierarchical (Ward)"]]) method.appendChild(el("option", { text: t, attrs: { value: v } }));
  const k = el("input", { class: "dw-sg-k", attrs: { type: "number", min: 2, step: 1, placeholder: "auto", "aria-label": "number of subgroups k" } });
  const toolbar = el("div", { class: "dw-toolbar" }, [
    el("label", { text: "split " }), split, el("span", { class: "dw-sep" }),
    el("label", { text: "method " }), method, el("span", { class: "dw-sep" }),
    el("label", { text: "k " }), k,
  ]);
  const errorBanner = el("div", { class: "dw-error" });
  const header = el("div", { class: "dw-sg-header" });
  const legend = el("div", { class: "dw-sg-legend" }, [
    el("span", {}, [el("span", { class: "dw-sg-x", attrs: { role: "img", "aria-label": "wrong" } }), el("span", { text: "wrongly predicted image" })]),
    el("span", { text: "click a row to compare the subgroup with its closest well-performing one" }),
    el("span", { text: "click an image for its Grad-CAM" }),
  ]);
  const rowsBox = el("div", { class: "dw-sg-rows" });
  const pickedBox = el("div", { class: "dw-sg-picked", style: { display: "none" } });
  const detailBar = el("div", { class: "dw-sg-detail-bar" }, [
    el("span", { class: "dw-sg-title", text: "Grad-CAM window" }),
    el("button", { class: "dw-sg-close", text: "× close", attrs: { type: "button", "aria-label": "close the Grad-CAM window" }, on: { click: () => setAndSave("focus", -1) } }),
  ]);
  const detailPanel = el("div");
  const detailBox = el("div", { class: "dw-sg-detail", style: { display: "none" } }, [detailBar, detailPanel]);
  root.append(toolbar, errorBanner, header, legend, rowsBox, pickedBox, detailBox);

  const atlases = { atlas: null, pair_atlas: null };
  const decoders = { atlas: latestAtlas(), pair_atlas: latestAtlas() };
  let loads = 0;

  // ------------------------------------------------------------ one subgroup as a row of images
  function rowNode(row, atlasName, extraClass, onClick) {
    const thumbs = el("div", { class: "dw-sg-thumbs" });
    const focus = model.get("focus");
    const cols = model.get(atlasName === "atlas" ? "atlas_cols" : "pair_atlas_cols");
    const cell = model.get("cell");
    row.images.forEach((img, j) => {
      const canvas = el("canvas");
      canvas.width = canvas.height = cell;
      if (atlases[atlasName]) drawCell(canvas.getContext("2d"), atlases[atlasName], row.offset + j, cols, cell);
      const verdict = img.correct ? "correct" : "wrong";
      const node = el(
        "div",
        {
          class: `dw-sg-thumb${img.correct ? "" : " dw-wrong"}${img.index === focus ? " dw-focus" : ""}`,
          attrs: { "data-index": img.index },
          title: `#${img.index}: label ${img.label}, predicted ${img.pred} (${verdict}); click for its Grad-CAM`,
          on: {
            click: (ev) => {
              ev.stopPropagation();
              setAndSave("focus", img.index);
            },
          },
        },
        [canvas, img.correct ? null : el("span", { class: "dw-sg-x", attrs: { role: "img", "aria-label": "wrongly predicted" } })],
      );
      thumbs.appendChild(node);
    });
    if (row.more > 0) thumbs.appendChild(el("span", { class: "dw-sg-more", text: `+${row.more} more` }));
    const head = el("div", { class: "dw-sg-head" }, [
      el("span", { class: "dw-sg-id", text: `subgroup #${row.id}` }),
      el("span", { class: "dw-sg-size", text: `${row.size} images, ${row.wrong} wrong` }),
      el("span", { class: "dw-sg-acc", text: `accuracy ${pct(row.accuracy)}` }),
      el("span", { class: "dw-sg-dominant", text: `mostly ${row.label} (${pct(row.label_share)})`, title: `most common true class ${row.label} (${pct(row.label_share)}); most common prediction ${row.prediction} (${pct(row.prediction_share)})` }),
    ]);
    return el("div", { class: `dw-sg-row ${extraClass}`, attrs: { "data-id": row.id }, on: onClick ? { click: onClick } : {} }, [head, thumbs]);
  }

  function renderRows() {
    clear(rowsBox);
    const s = model.get("summary");
    const rows = model.get("rows");
    root.setAttribute("data-rows", String(rows.length));
    if (!s || s.k === undefined) {
      header.textContent = "";
      legend.style.display = "none";
      return;
    }
    const rule = `accuracy < ${s.ratio} × overall = ${pct(s.threshold)}`;
    header.textContent = `${s.version} on ${s.split || "all images"} (${s.n_images} images): overall accuracy ${pct(s.overall_accuracy)} · k = ${s.k} subgroups · ${s.n_under} under-performing (${rule})`;
    legend.style.display = rows.length ? "" : "none";
    if (!rows.length) {
      rowsBox.appendChild(el("div", { class: "dw-empty", text: `no subgroup under-performs: every subgroup's accuracy ≥ ${s.ratio} × overall (${pct(s.threshold)})` }));
      return;
    }
    const picked = model.get("subgroup");
    for (const row of rows) {
      const onClick = () => setAndSave("subgroup", row.id === model.get("subgroup") ? -1 : row.id);
      rowsBox.appendChild(rowNode(row, "atlas", row.id === picked ? "dw-picked" : "", onClick));
    }
  }

  // ------------------------------------------------------------ confusion matrices
  function matrixNode(title, m, classes, max, cls) {
    const c = classes.length;
    const grid = el("div", { class: "dw-sg-grid", style: { gridTemplateColumns: `auto auto repeat(${c}, 24px)` } });
    const put = (node, row, col, rowSpan = 1, colSpan = 1) => {
      node.style.gridRow = `${row} / span ${rowSpan}`;
      node.style.gridColumn = `${col} / span ${colSpan}`;
      grid.appendChild(node);
    };
    put(el("div", { class: "dw-sg-axis dw-sg-xtitle", text: "predicted class" }), 1, 3, 1, c);
    classes.forEach((name, j) => put(el("div", { class: "dw-sg-tick dw-sg-col", text: name, title: name }), 2, 3 + j));
    put(el("div", { class: "dw-sg-axis dw-sg-ytitle", text: "true class" }), 3, 1, c, 1);
    classes.forEach((name, i) => {
      put(el("div", { class: "dw-sg-tick dw-sg-rowtick", text: name, title: name }), 3 + i, 2);
      m[i].forEach((count, j) => {
        const cell = el("div", { class: `dw-sg-cell${i === j ? " dw-sg-diag" : ""}`, text: String(count), title: `true ${name}, predicted ${classes[j]}: ${count} images` });
        if (count > 0) {
          const rgb = countColor(count, max);
          cell.style.background = cssRgb(rgb);
          cell.style.color = inkOn(rgb);
        }
        put(cell, 3 + i, 3 + j);
      });
    });
    return el("div", { class: `dw-sg-matrix ${cls}` }, [el("div", { class: "dw-sg-title", text: title }), grid]);
  }

  function colorBar(max) {
    const bar = el("canvas");
    paintColorbar(bar, 200, 10, (t) => cssRgb(sequential(t)));
    return el("div", { class: "dw-sg-cbar", title: "colour bar: images in a cell, on one scale for both matrices" }, [
      el("span", { class: "dw-sg-axis", text: "colour: number of images in the cell (both matrices)" }),
      bar,
      el("div", { class: "dw-sg-cbar-ticks" }, [el("span", { text: "1" }), el("span", { text: String(Math.max(1, max)) })]),
      el("span", { class: "dw-sg-note", text: "an uncoloured cell holds no image (0); outlined cells (the diagonal) are correct predictions" }),
    ]);
  }

  function renderPicked() {
    clear(pickedBox);
    const p = model.get("picked");
    if (!p || p.id === undefined) {
      pickedBox.style.display = "none";
      root.setAttribute("data-picked", "");
      return;
    }
    pickedBox.style.display = "";
    const row = model.get("rows").find((r) => r.id === p.id);
    const acc = row ? ` (accuracy ${pct(row.accuracy)})` : "";
    const matrices = el("div", { class: "dw-sg-matrices" }, [matrixNode(`subgroup #${p.id}${acc}: confusion matrix`, p.confusion, p.classes, p.max_count, "dw-sg-matrix-under")]);
    if (p.pair) {
      pickedBox.append(
        el("div", { class: "dw-sg-title", text: `Subgroup #${p.id}${acc} and its paired well-performing subgroup #${p.pair.id} (the closest by mean embedding):` }),
        rowNode(p.pair, "pair_atlas", "dw-sg-pair", null),
      );
      matrices.appendChild(matrixNode(`paired subgroup #${p.pair.id} (accuracy ${pct(p.pair.accuracy)}): confusion matrix`, p.pair_confusion, p.classes, p.max_count, "dw-sg-matrix-pair"));
    } else {
      pickedBox.appendChild(el("div", { class: "dw-sg-title", text: `Subgroup #${p.id}${acc}: no subgroup performs well, so it has no pair` }));
    }
    pickedBox.append(matrices, colorBar(p.max_count));
    root.setAttribute("data-picked", String(p.id));
  }

  // ------------------------------------------------------------ Grad-CAM window (lib/detail.js)
  const detail = detailScheduler(detailPanel, model, (index) => {
    detailBox.style.display = index === null ? "none" : "";
    root.setAttribute("data-detail", index === null ? "" : String(index));
  });

  async function loadAtlas(name) {
    const bitmap = await decoders[name](model.get(name));
    if (bitmap === undefined) return; // a newer atlas arrived meanwhile
    atlases[name] = bitmap;
    if (name === "atlas") renderRows();
    else renderPicked();
    root.setAttribute("data-loaded", String(++loads));
  }

  // ------------------------------------------------------------ wiring
  const syncForm = () => {
    split.value = model.get("split") ?? "";
    method.value = model.get("method");
    const kv = model.get("k");
    k.value = kv === null || kv === undefined ? "" : String(kv);
  };
  scope.bind(split, { change: () => setAndSave("split", split.value || null) });
  scope.bind(method, { change: () => setAndSave("method", method.value) });
  scope.bind(k, { change: () => setAndSave("k", k.value === "" ? null : Math.round(Number(k.value))) });
  const both = () => {
    renderRows();
    renderPicked();
  };
  scope.bind(model, {
    "change:rows": renderRows,
    "change:summary": renderRows,
    "change:subgroup": renderRows,
    "change:focus": both,
    "change:picked": renderPicked,
    "change:atlas": () => loadAtlas("atlas"),
    "change:pair_atlas": () => loadAtlas("pair_atlas"),
    "change:error": () => showError(errorBanner, model.get("error")),
    "change:split": syncForm,
    "change:method": syncForm,
    "change:k": syncForm,
    "change:detail": detail.schedule,
    "change:detail_image": detail.schedule,
    "change:detail_mask": detail.schedule,
    "change:detail_heat": detail.schedule,
  });

  syncForm();
  showError(errorBanner, model.get("error"));
  detail.now();
  loadAtlas("atlas");
  loadAtlas("pair_atlas");
  return scope.dispose;
}

export default { render };
