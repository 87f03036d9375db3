// CriticismView (Stock & Cisse 2018): per class a row of prototypes and a row of criticisms, each
// image with its IFGSM step count; a method switch (adversarial / MMD-critic / probability); and
// enrichment bars of a boolean attribute: its share among prototypes, criticisms and the class,
// per class and over all, with the odds ratio and Fisher p as text. Clicking an image focuses it.

import { atlasRedraw, drawCell } from "./lib/atlas.js";
import { CATEGORICAL } from "./lib/colors.js";
import { canvasOf, clear, disposer, el, showError } from "./lib/dom.js";
import { addStyle } from "./lib/style.js";
import { jobStatus } from "./lib/job.js";

const IMAGE_PX = 56;
const TICKS = [0, 0.25, 0.5, 0.75, 1];
const METHODS = [["adv", "adversarial (IFGSM)"], ["mmd", "MMD-critic"], ["prob", "probability"]];
// bar colours (data colours; their labels are neutral text beside a swatch)
const SETS = [
  ["share_class", "class (all images)", CATEGORICAL[2]],
  ["share_prototypes", "prototypes", CATEGORICAL[0]],
  ["share_criticisms", "criticisms", CATEGORICAL[1]],
];

const CSS = `
.dw-criticism { max-width: 100%; box-sizing: border-box; }
/* the shared banner's red text (--jp-error-color0) falls under 4.5:1 on JupyterLab Dark: neutral
   text here, the border and the tinted background say it is an error */
.dw-criticism-head { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin-bottom: 4px; }
.dw-criticism-title { font-weight: 600; font-size: 13px; }
.dw-criticism-status { color: var(--dw-fg-muted); }
.dw-criticism-class { margin: 6px 0; border-top: 1px solid var(--dw-border-faint); padding-top: 4px; }
.dw-criticism-class h4 { margin: 0 0 3px 0; font-size: 12px; font-weight: 600; color: var(--dw-fg); }
.dw-criticism-row { display: flex; gap: 8px; align-items: flex-start; margin: 2px 0; }
.dw-criticism-role { width: 92px; flex: none; color: var(--dw-fg-muted); font-size: 11px; }
.dw-criticism-items { display: flex; flex-wrap: wrap; gap: 4px; }
.dw-criticism-note { color: var(--dw-fg-muted); font-size: 11px; }
.dw-criticism-item { border: 2px solid transparent; border-radius: 3px; padding: 1px; background: var(--dw-bg-alt); cursor: pointer; font-size: 10.5px; font-variant-numeric: tabular-nums; color: var(--dw-fg); }
.dw-criticism-item.dw-focus { border-color: var(--dw-accent); }
.dw-criticism-item canvas { display: block; image-rendering: pixelated; }
.dw-criticism-item span { display: block; white-space: nowrap; text-align: center; }
.dw-criticism-enrich { margin-top: 8px; }
.dw-criticism-enrich h4 { margin: 0 0 3px 0; font-size: 12px; font-weight: 600; color: var(--dw-fg); }
.dw-criticism-bars { display: grid; grid-template-columns: max-content 220px max-content; column-gap: 8px; row-gap: 2px; align-items: center; }
.dw-criticism-group { font-size: 11px; }
.dw-criticism-track { position: relative; height: 9px; background: var(--dw-bg-raised); border-left: 1px solid var(--dw-fg-muted); }
.dw-criticism-fill { position: absolute; left: 0; top: 0; bottom: 0; }
.dw-criticism-gridline { position: absolute; top: 0; bottom: 0; width: 0; border-left: 1px dotted var(--dw-border); }
.dw-criticism-axis { position: relative; height: 16px; border-top: 1px solid var(--dw-fg-muted); }
.dw-criticism-tick { position: absolute; top: 0; transform: translateX(-50%); color: var(--dw-fg-muted); font-size: 10.5px; }
.dw-criticism-axis-title { color: var(--dw-fg-muted); font-size: 11px; white-space: nowrap; }
.dw-criticism-stat { color: var(--dw-fg-muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.dw-criticism-sep { grid-column: 1 / -1; height: 4px; }
`;

export function formatShare(x) {
  return x === null || x === undefined ? "–" : `${Math.round(100 * x)}%`;
}

/** "odds ratio 2.31, p = 0.012" for an enrichment row (criticisms vs prototypes). */
export function oddsText(r) {
  if (r.odds_ratio === null || r.odds_ratio === undefined) return "odds ratio: n/a (an empty set)";
  const odds = r.odds_ratio >= 1e300 ? "∞" : r.odds_ratio.toPrecision(3);
  const p = r.p_value === null || r.p_value === undefined ? "n/a" : r.p_value < 1e-4 ? r.p_value.toExponential(1) : r.p_value.toPrecision(2);
  return `odds ratio ${odds}, p = ${p}`;
}

function render({ model, el: host }) {
  addStyle("dw-criticism-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-criticism" });
  host.appendChild(root);

  const methodSel = el("select", { class: "dw-criticism-method", attrs: { title: "selection method" } },
    METHODS.map(([v, label]) => el("option", { text: label, attrs: { value: v } })));
  const attrSel = el("select", { class: "dw-criticism-attribute", attrs: { title: "boolean attribute of the enrichment bars" } });
  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress", title: "criticising" }, [bar]);
  const cancelBtn = el("button", { class: "dw-cancel", text: "Cancel", attrs: { type: "button", title: "stop criticising" } });
  const runBtn = el("button", { class: "dw-criticism-run", text: "Criticize", attrs: { type: "button", title: "run the criticism again" } });
  const status = el("span", { class: "dw-criticism-status" });
  const errorBanner = el("div", { class: "dw-error" });
  const classes = el("div", { class: "dw-criticism-classes" });
  const enrich = el("div", { class: "dw-criticism-enrich" });
  root.append(
    el("div", { class: "dw-criticism-head" }, [
      el("span", { class: "dw-criticism-title", text: "Prototypes and criticisms" }),
      el("label", {}, [el("span", { text: "method " }), methodSel]),
      el("label", {}, [el("span", { text: "attribute " }), attrSel]),
      progress, cancelBtn, runBtn, status,
    ]),
    errorBanner, classes, enrich,
    el("div", { class: "dw-legend" }, [
      el("span", { class: "dw-legend-note", text: "under each image: dataset index · IFGSM steps to flip its decision (“never”: survived all steps, “wrong”: misclassified to begin with) · accent border: focused image · click an image to focus it in linked views" }),
    ]),
  );

  let atlas = null;

  const syncJob = jobStatus(model, { root, bar, progress, status, cancelBtn, runBtn });

  function syncControls() {
    methodSel.value = model.get("method");
    clear(attrSel);
    const attrs = model.get("attributes");
    for (const a of attrs) attrSel.appendChild(el("option", { text: a, attrs: { value: a } }));
    attrSel.value = model.get("attribute");
    attrSel.disabled = !attrs.length;
  }

  function stepText(it) {
    const max = model.get("max_steps");
    if (it.steps < 0) return "";
    if (it.steps === 0) return "wrong";
    return it.steps > max ? "never" : `${it.steps} step${it.steps === 1 ? "" : "s"}`;
  }

  function drawRow(row, role, focus) {
    const items = row[`${role}s`];
    const line = el("div", { class: `dw-criticism-row dw-criticism-${role}s`, attrs: { "data-class": row.label, "data-n": items.length } });
    const total = row[`n_${role}s`];
    line.appendChild(el("span", { class: "dw-criticism-role", text: `${role === "prototype" ? "prototypes" : "criticisms"} (${total})` }));
    const box = el("div", { class: "dw-criticism-items" });
    const cell = model.get("cell"), cols = model.get("atlas_cols");
    for (const it of items) {
      const c = canvasOf(IMAGE_PX);
      if (atlas) drawCell(c.getContext("2d"), atlas, it.cell, cols, cell, IMAGE_PX, IMAGE_PX);
      box.appendChild(el("div", {
        class: `dw-criticism-item${it.index === focus ? " dw-focus" : ""}`,
        attrs: { "data-index": it.index, "data-steps": it.steps },
        title: `image #${it.index} (${row.class}): p(true class) ${it.prob}, ${stepText(it) || "steps not computed"}`,
        on: { click: () => { model.set("focus", it.index); model.save_changes(); } },
      }, [c, el("span", { text: `#${it.index}` }), el("span", { class: "dw-criticism-steps", text: stepText(it) })]));
    }
    const note = row[`${role}_note`];
    if (note) box.appendChild(el("span", { class: "dw-criticism-note", text: note }));
    line.appendChild(box);
    return line;
  }

  function drawClasses() {
    clear(classes);
    const focus = model.get("focus");
    for (const row of model.get("rows")) {
      classes.appendChild(el("div", { class: "dw-criticism-class", attrs: { "data-class": row.label } }, [
        el("h4", { text: `class ${row.class}` }), drawRow(row, "prototype", focus), drawRow(row, "criticism", focus),
      ]));
    }
  }

  function drawEnrichment() {
    clear(enrich);
    const rows = model.get("enrichment");
    const attr = model.get("attribute");
    const note = model.get("enrichment_note");
    root.setAttribute("data-enrichment", String(rows.length));
    if (!rows.length) {
      if (note) enrich.append(el("h4", { text: "Attribute enrichment" }), el("div", { class: "dw-criticism-note", text: note }));
      return;
    }
    enrich.appendChild(el("h4", { text: `Enrichment of ${attr} = True among prototypes vs criticisms` }));
    const bars = el("div", { class: "dw-criticism-bars" });
    for (const r of rows) {
      SETS.forEach(([key, label, color], j) => {
        const v = r[key];
        const count = key === "share_class" ? r.n_class : key === "share_prototypes" ? r.n_prototypes : r.n_criticisms;
        bars.append(
          el("span", { class: "dw-criticism-group", text: j === 0 ? (r.class === "all" ? "all classes" : r.class) : "" }),
          el("div", { class: "dw-criticism-track", title: `${r.class}, ${label}: ${formatShare(v)} of ${count}` }, [
            ...TICKS.slice(1).map((t) => el("span", { class: "dw-criticism-gridline", style: { left: `${100 * t}%` } })),
            el("div", { class: "dw-criticism-fill", attrs: { "data-set": key, "data-share": v === null ? "" : v }, style: { width: `${(100 * Math.min(1, Math.max(0, v || 0))).toFixed(2)}%`, background: color } }),
          ]),
          el("span", { class: "dw-criticism-stat", text: `${label}: ${formatShare(v)} of ${count}${j === 2 ? ` · ${oddsText(r)}` : ""}` }),
        );
      });
      bars.appendChild(el("span", { class: "dw-criticism-sep" }));
    }
    bars.append(el("span"), el("div", { class: "dw-criticism-axis" }, TICKS.map((t) => el("span", { class: "dw-criticism-tick", style: { left: `${100 * t}%` }, text: String(t) }))), el("span"));
    bars.append(el("span"), el("span", { class: "dw-criticism-axis-title", text: `share of images with ${attr} = True (0–1)` }), el("span"));
    enrich.append(
      bars,
      el("div", { class: "dw-legend dw-criticism-legend" }, SETS.map(([, label, color]) => el("span", { class: "dw-legend-item" }, [
        el("span", { class: "dw-swatch", style: { background: color, borderRadius: "2px" } }), el("span", { text: label }),
      ]))),
      el("div", { class: "dw-criticism-note", text: "odds ratio: odds of the attribute among criticisms over its odds among prototypes (> 1: criticisms enriched); p: two-sided Fisher exact test" }),
    );
  }

  function drawAll() {
    syncControls();
    syncJob();
    drawClasses();
    drawEnrichment();
    root.setAttribute("data-rendered", model.get("rendered"));
    root.setAttribute("data-focus", String(model.get("focus")));
  }

  const schedule = atlasRedraw(model, (bitmap) => {
    atlas = bitmap;
    drawAll();
  });

  scope.bind(methodSel, { change: () => { model.set("method", methodSel.value); model.save_changes(); } });
  scope.bind(attrSel, { change: () => { model.set("attribute", attrSel.value); model.save_changes(); } });
  scope.bind(cancelBtn, { click: () => model.send({ action: "cancel" }) });
  scope.bind(runBtn, { click: () => model.send({ action: "run" }) });
  scope.bind(model, {
    "change:atlas": () => schedule(true),
    "change:rows": () => schedule(),
    "change:enrichment": () => schedule(),
    "change:enrichment_note": () => schedule(),
    "change:rendered": () => schedule(),
    "change:focus": () => schedule(),
    "change:method": () => syncControls(),
    "change:attribute": () => syncControls(),
    "change:attributes": () => syncControls(),
    "change:state": syncJob,
    "change:progress": syncJob,
    "change:message": syncJob,
    "change:error": () => showError(errorBanner, model.get("error")),
  });
  showError(errorBanner, model.get("error"));
  schedule();
  return scope.dispose;
}

export default { render };
