// NeuronPanel (VisCUIT's Neuron Activations): conv neurons highly activated by an
// under-performing subgroup's images, by both, or by its well-performing pair's only; one band per
// conv layer (model order, top to bottom), node size = activation score. The kernel sends every
// neuron scoring >= 0.5 for either group once; the threshold slider re-sorts them here.

import { disposer, clear, el, hoverTooltip, showError } from "./lib/dom.js";
import { addStyle } from "./lib/style.js";
import { onThemeChange } from "./lib/theme.js";

const SVG = "http://www.w3.org/2000/svg";
export const COLUMNS = ["under", "both", "well"];
// categorical swatches (fills only; every text is neutral --dw-fg)
export const COLUMN_COLORS = { under: "#d62728", both: "#9467bd", well: "#1b9e77" };
const GUTTER = 110; // layer names
const COL_W = 250;
const HEAD = 40;
const CELL = 20;
const PAD = 6;

const CSS = `
.dw-neurons .dw-neuron-hint { color: var(--dw-fg); margin: 2px 0; }
.dw-neurons .dw-neuron-legend { color: var(--dw-fg-muted); font-size: 11px; margin: 2px 0 6px; max-width: 880px; }
.dw-neurons .dw-neuron-threshold { width: 120px; }
.dw-neurons div.dw-plot { overflow-x: auto; }
.dw-neurons svg text { fill: var(--dw-fg); font: 11px var(--jp-ui-font-family, system-ui, sans-serif); }
.dw-neurons svg text.dw-band-name { fill: var(--dw-fg-muted); }
.dw-neurons svg line.dw-band-line { stroke: var(--dw-border-faint); }
.dw-neurons svg circle.dw-key { fill: var(--dw-fg-muted); }
.dw-neurons svg rect.dw-col-bg { fill: var(--dw-bg-alt); }
.dw-neurons svg circle.dw-neuron { cursor: pointer; stroke: var(--dw-bg); stroke-width: 1; fill-opacity: 0.85; }
.dw-neurons svg circle.dw-neuron.dw-picked { stroke: var(--dw-fg); stroke-width: 2.5; }
.dw-neurons svg.dw-hovering circle.dw-neuron { opacity: 0.25; }
.dw-neurons svg.dw-hovering circle.dw-neuron.dw-hover, .dw-neurons svg.dw-hovering circle.dw-neuron.dw-mate { opacity: 1; stroke: var(--dw-fg); stroke-width: 2; }
`;

/** The column of a neuron with scores `u` (under-performing group) and `w` (well-performing) at
 * threshold `t`: "under", "both", "well", or null when it is below `t` for both. */
export function columnOf(u, w, t) {
  const a = u >= t, b = w >= t;
  if (a && b) return "both";
  if (a) return "under";
  if (b) return "well";
  return null;
}

/** Node radius in pixels for a score in [0, 1] (0.5 -> 5, 1 -> 9). */
export function radius(score) {
  return 1 + 8 * Math.min(1, Math.max(0, score));
}

/**
 * Place the neurons of `data` ({bands, band, neuron, under, well}) at threshold `t`: per band
 * (model order) and column, nodes in rows of `perRow`, highest score first. Returns {nodes:
 * [{i, col, band, x, y, r, score}], bands: [{name, y, height}], counts: {under, both, well},
 * height}. `x`, `y` are centres relative to the column's left edge and the plot's top.
 */
export function layoutNeurons(data, t, perRow = Math.floor((COL_W - 2 * PAD) / CELL)) {
  const names = data.bands || [];
  const per = names.map(() => ({ under: [], both: [], well: [] }));
  const counts = { under: 0, both: 0, well: 0 };
  const n = (data.neuron || []).length;
  for (let i = 0; i < n; i++) {
    const col = columnOf(data.under[i], data.well[i], t);
    if (!col) continue;
    const score = col === "under" ? data.under[i] : col === "well" ? data.well[i] : Math.max(data.under[i], data.well[i]);
    per[data.band[i]][col].push({ i, col, band: data.band[i], score });
    counts[col] += 1;
  }
  const nodes = [];
  const bands = [];
  let y = HEAD;
  names.forEach((name, b) => {
    const rows = Math.max(1, ...COLUMNS.map((c) => Math.ceil(per[b][c].length / perRow)));
    const height = rows * CELL + PAD;
    for (const c of COLUMNS) {
      per[b][c].sort((p, q) => q.score - p.score || p.i - q.i);
      per[b][c].forEach((node, k) => {
        node.x = PAD + (k % perRow) * CELL + CELL / 2;
        node.y = y + PAD / 2 + Math.floor(k / perRow) * CELL + CELL / 2;
        node.r = radius(node.score);
        nodes.push(node);
      });
    }
    bands.push({ name, y, height });
    y += height;
  });
  return { nodes, bands, counts, height: y + PAD };
}

/** Tooltip lines of neuron `i` of `data` (its cluster id `cluster`, -1 none). */
export function neuronLines(data, i, groups, cluster = -1) {
  const pct = (v) => `${(100 * v).toFixed(0)} %`;
  const lines = [
    `layer ${data.bands[data.band[i]]}, neuron ${data.neuron[i]}`,
    `score, under-performing #${groups.under}: ${data.under[i].toFixed(3)} (${pct(data.under[i])} of its images)`,
    `score, well-performing #${groups.well}: ${data.well[i].toFixed(3)} (${pct(data.well[i])} of its images)`,
  ];
  if (cluster >= 0) lines.push(`neuron cluster ${cluster} (hover shows its mates)`);
  return lines;
}

function svgNode(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function render({ model, el: host }) {
  addStyle("dw-neurons-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-neurons" });
  host.appendChild(root);
  const pick = el("select", { class: "dw-neuron-subgroup", title: "under-performing subgroup (or link a SubgroupPanel)" });
  const slider = el("input", { class: "dw-neuron-threshold", attrs: { type: "range", min: 0.5, max: 1, step: 0.05, title: "activation-score threshold" } });
  const tLabel = el("span", { class: "dw-neuron-tvalue" });
  const clusterBtn = el("button", { class: "dw-cluster-neurons", text: "Cluster neurons", attrs: { type: "button", title: "group the neurons shown by the concepts they detect (background job)" } });
  const bar = el("div", { class: "dw-progress-bar" });
  const progress = el("div", { class: "dw-progress", title: "clustering neurons" }, [bar]);
  const cancelBtn = el("button", { class: "dw-cancel", text: "Cancel", attrs: { type: "button", title: "stop clustering" } });
  const status = el("span", { class: "dw-status dw-neuron-status" });
  const toolbar = el("div", { class: "dw-toolbar" }, [
    el("label", { text: "subgroup " }), pick, el("span", { class: "dw-sep" }),
    el("label", { text: "score threshold " }), slider, tLabel, el("span", { class: "dw-sep" }),
    clusterBtn, progress, cancelBtn, status,
  ]);
  const hint = el("div", { class: "dw-neuron-hint" });
  const legendText = el("span", { class: "dw-neuron-legend-text" });
  const sizeKey = svgNode("svg", { class: "dw-neuron-sizekey", width: 250, height: 22 });
  for (const [k, score] of [0.5, 0.75, 1].entries()) {
    sizeKey.appendChild(svgNode("circle", { class: "dw-key", cx: 10 + 80 * k, cy: 11, r: radius(score) }));
    sizeKey.appendChild(svgNode("text", { x: 22 + 80 * k, y: 15 }, `score ${score}`));
  }
  const legend = el("div", { class: "dw-neuron-legend" }, [
    el("div", { class: "dw-legend-item" }, [el("span", { text: "node size = activation score:" }), sizeKey]),
    el("div", {}, [legendText]),
  ]);
  const errorBanner = el("div", { class: "dw-error" });
  const svg = svgNode("svg", { class: "dw-neuron-svg" });
  const tooltip = el("div", { class: "dw-tooltip" });
  const plot = el("div", { class: "dw-plot" }, [svg, tooltip]);
  root.append(toolbar, hint, legend, errorBanner, plot);

  let threshold = model.get("threshold");
  let circles = new Map(); // neuron position in the payload -> circle

  function syncOptions() {
    clear(pick);
    pick.appendChild(el("option", { text: "— pick —", attrs: { value: "-1" } }));
    for (const o of model.get("options")) {
      pick.appendChild(el("option", { text: `#${o.id}: ${o.size} images, accuracy ${(100 * o.accuracy).toFixed(0)} %, mostly ${o.label} (vs #${o.pair})`, attrs: { value: o.id } }));
    }
    pick.value = String(model.get("subgroup"));
  }

  function draw() {
    const data = model.get("neurons");
    const groups = model.get("groups");
    const clusters = model.get("clusters");
    const picked = model.get("neuron");
    const sub = model.get("subgroup");
    clear(svg);
    circles = new Map();
    hint.textContent = sub === -1
      ? (model.get("options").length
        ? "Pick an under-performing subgroup in the SubgroupPanel (or in the menu above) to see the neurons its images activate."
        : "This version has no under-performing subgroup to show.")
      : "";
    plot.style.display = sub === -1 || !data.bands ? "none" : "";
    slider.value = String(threshold);
    tLabel.textContent = ` ${threshold.toFixed(2)} `;
    legendText.textContent =
      `Score = share of a group's images for which the neuron is among its layer's most activated (Summit's rule). ` +
      `A neuron sits in a column when its score is ≥ ${threshold.toFixed(2)} (the slider): for the under-performing subgroup only, for both, ` +
      `or for the well-performing pair only; neurons below it for both groups are hidden. Node size = score (in Both: the larger of the two). ` +
      "Rows are conv layers, input side at the top. Hover: scores and cluster mates; click: the neuron's concepts in a linked ConceptWindow.";
    root.setAttribute("data-subgroup", String(sub));
    if (sub === -1 || !data.bands) {
      root.setAttribute("data-shown", "0");
      return;
    }
    const { nodes, bands, counts, height } = layoutNeurons(data, threshold);
    const width = GUTTER + 3 * COL_W;
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const titles = {
      under: [`Under-performing #${groups.under}`, `${groups.under_size} images, accuracy ${(100 * groups.under_accuracy).toFixed(0)} %`],
      both: ["Both", "size: the larger score"],
      well: [`Well-performing #${groups.well}`, `${groups.well_size} images, accuracy ${(100 * groups.well_accuracy).toFixed(0)} %`],
    };
    COLUMNS.forEach((c, k) => {
      const x0 = GUTTER + k * COL_W;
      svg.appendChild(svgNode("rect", { class: "dw-col-bg", x: x0 + 2, y: 0, width: COL_W - 4, height }));
      svg.appendChild(svgNode("line", { class: "dw-band-line", x1: x0, x2: x0, y1: 0, y2: height }));
      svg.appendChild(svgNode("circle", { cx: x0 + 12, cy: 12, r: 5, fill: COLUMN_COLORS[c] }));
      svg.appendChild(svgNode("text", { class: "dw-col-title", x: x0 + 22, y: 16, "data-col": c }, `${titles[c][0]} · ${counts[c]} neuron${counts[c] === 1 ? "" : "s"}`));
      svg.appendChild(svgNode("text", { class: "dw-col-sub", x: x0 + 22, y: 31 }, titles[c][1]));
    });
    svg.appendChild(svgNode("text", { class: "dw-band-name", x: 4, y: 31 }, "conv layer"));
    for (const b of bands) {
      svg.appendChild(svgNode("line", { class: "dw-band-line", x1: 0, x2: width, y1: b.y, y2: b.y }));
      svg.appendChild(svgNode("text", { class: "dw-band-name", x: 4, y: b.y + 15 }, b.name));
    }
    for (const node of nodes) {
      const x0 = GUTTER + COLUMNS.indexOf(node.col) * COL_W;
      const cl = clusters[node.i] ?? -1;
      const isPicked = picked && picked.layer === data.bands[node.band] && picked.neuron === data.neuron[node.i];
      const circle = svgNode("circle", {
        class: `dw-neuron${isPicked ? " dw-picked" : ""}`, cx: x0 + node.x, cy: node.y, r: node.r.toFixed(2),
        fill: COLUMN_COLORS[node.col], "data-i": node.i, "data-col": node.col, "data-layer": data.bands[node.band],
        "data-neuron": data.neuron[node.i], "data-cluster": cl,
      });
      circles.set(node.i, circle);
      svg.appendChild(circle);
    }
    root.setAttribute("data-shown", String(nodes.length));
    for (const c of COLUMNS) root.setAttribute(`data-${c}`, String(counts[c]));
  }

  function syncJob() {
    const running = model.get("cluster_state") === "running";
    bar.style.width = `${Math.round(100 * model.get("progress"))}%`;
    progress.style.visibility = running ? "visible" : "hidden";
    cancelBtn.style.display = running ? "" : "none";
    clusterBtn.disabled = running || model.get("subgroup") === -1;
    status.textContent = model.get("message");
    root.setAttribute("data-cluster-state", model.get("cluster_state"));
  }

  const target = (ev) => (ev.target && ev.target.classList && ev.target.classList.contains("dw-neuron") ? Number(ev.target.getAttribute("data-i")) : null);

  function unhover() {
    svg.classList.remove("dw-hovering");
    for (const c of svg.querySelectorAll(".dw-hover, .dw-mate")) c.classList.remove("dw-hover", "dw-mate");
  }

  scope.add(hoverTooltip(plot, tooltip, (ev) => {
    const i = target(ev);
    if (i === null) return null;
    return neuronLines(model.get("neurons"), i, model.get("groups"), model.get("clusters")[i] ?? -1);
  }));
  scope.bind(svg, {
    mouseover: (ev) => {
      unhover();
      const i = target(ev);
      if (i === null) return;
      const cl = model.get("clusters")[i] ?? -1;
      svg.classList.add("dw-hovering");
      circles.get(i)?.classList.add("dw-hover");
      if (cl < 0) return;
      for (const c of svg.querySelectorAll(`circle.dw-neuron[data-cluster="${cl}"]`)) if (c !== circles.get(i)) c.classList.add("dw-mate");
    },
    mouseleave: unhover,
    click: (ev) => {
      const i = target(ev);
      if (i === null) return;
      const data = model.get("neurons");
      model.set("neuron", { layer: data.bands[data.band[i]], neuron: data.neuron[i] });
      model.save_changes();
    },
  });
  scope.bind(slider, {
    input: () => {
      threshold = Number(slider.value);
      draw();
    },
    change: () => {
      threshold = Number(slider.value);
      model.set("threshold", threshold);
      model.save_changes();
    },
  });
  scope.bind(pick, {
    change: () => {
      model.set("subgroup", Number(pick.value));
      model.save_changes();
    },
  });
  scope.bind(clusterBtn, { click: () => model.send({ action: "cluster", threshold }) });
  scope.bind(cancelBtn, { click: () => model.send({ action: "cancel" }) });
  scope.bind(model, {
    "change:neurons": draw,
    "change:groups": draw,
    "change:clusters": draw,
    "change:neuron": () => {
      draw();
      const n = model.get("neuron");
      root.setAttribute("data-neuron", n && n.layer ? `${n.layer}:${n.neuron}` : "");
    },
    "change:threshold": () => {
      threshold = model.get("threshold");
      draw();
    },
    "change:options": syncOptions,
    "change:subgroup": () => {
      syncOptions();
      draw();
      syncJob();
    },
    "change:cluster_state": syncJob,
    "change:progress": syncJob,
    "change:message": syncJob,
    "change:error": () => showError(errorBanner, model.get("error")),
  });
  scope.add(onThemeChange(draw));
  syncOptions();
  draw();
  syncJob();
  showError(errorBanner, model.get("error"));
  return scope.dispose;
}

export default { render };
