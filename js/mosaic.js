// MosaicView: the confusion difference of two versions (DASH). One column per true class (width
// ∝ its images), stacked cells per class version b predicts (height ∝ count); red = b better
// there, blue = worse. Hover for counts; click selects a cell's images, ctrl/cmd-click adds
// cells. The view shows the shared selection whoever made it: a cell is outlined only while the
// selection is exactly whole cells' images; otherwise cells holding selected images are marked
// with their count. Selection is computed here from the per-image arrays, so it also works in an
// exported page. Colours follow the host's theme (lib/theme.js).

import { getArray } from "./lib/binary.js";
import { paintColorbar } from "./lib/colorbar.js";
import { disposer, el, hoverTooltip, showError } from "./lib/dom.js";
import { changeColor, confusionCounts, mixRgb, mosaicCells, selectionCells, themeRgb } from "./lib/mosaic-layout.js";
import { readSelection, selectionCount, writeSelection } from "./lib/selection.js";
import { addStyle } from "./lib/style.js";
import { onThemeChange, themeColors } from "./lib/theme.js";

const H = 320, PAD = 6, MAX_W = 760, MIN_W = 280, BAR_W = 180, BAR_H = 10;

const CSS = `
.dw-mosaic-figure { display: grid; grid-template-columns: 20px minmax(0, 1fr); max-width: ${MAX_W + 20}px; }
.dw-mosaic-ytitle { writing-mode: vertical-rl; transform: rotate(180deg); text-align: center; color: var(--dw-fg-muted); white-space: nowrap; overflow: hidden; }
.dw-mosaic-plot { position: relative; }
.dw-mosaic-xticks { position: relative; height: 16px; grid-column: 2; overflow: hidden; }
.dw-mosaic-xtick { position: absolute; top: 0; text-align: center; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; color: var(--dw-fg); }
.dw-mosaic-xtitle { grid-column: 2; text-align: center; color: var(--dw-fg-muted); }
.dw-mosaic-cell-label { position: absolute; pointer-events: none; font-size: 10px; line-height: 13px; padding: 0 2px; border-radius: 2px; background: var(--dw-bg); color: var(--dw-fg); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dw-mosaic-colorbar { display: inline-flex; align-items: center; gap: 4px; }
.dw-mosaic-colorbar canvas { display: block; border: 1px solid var(--dw-border); }
.dw-mosaic-selnote { color: var(--dw-fg-muted); }
`;

function render({ model, el: host }) {
  addStyle("dw-mosaic-style", CSS);
  const scope = disposer();
  const root = el("div", { class: "dw-root dw-mosaic" });
  host.appendChild(root);
  const title = el("div", { class: "dw-status dw-mosaic-title" });
  const errorBanner = el("div", { class: "dw-error" });
  const canvas = el("canvas", { class: "dw-mosaic-canvas" });
  const labels = el("div", { class: "dw-mosaic-labels" });
  const tooltip = el("div", { class: "dw-tooltip" });
  const plot = el("div", { class: "dw-mosaic-plot" }, [canvas, labels, tooltip]);
  const ytitle = el("div", { class: "dw-mosaic-ytitle dw-axis-title" });
  const xticks = el("div", { class: "dw-mosaic-xticks" });
  const xtitle = el("div", { class: "dw-mosaic-xtitle dw-axis-title", text: "true class (column width ∝ its images)" });
  const figure = el("div", { class: "dw-mosaic-figure" }, [ytitle, plot, xticks, xtitle]);
  const better = el("span");
  const worse = el("span");
  const same = el("span");
  const swatchBetter = el("span", { class: "dw-swatch", style: { borderRadius: "0" } });
  const swatchWorse = el("span", { class: "dw-swatch", style: { borderRadius: "0" } });
  const swatchSame = el("span", { class: "dw-swatch", style: { borderRadius: "0", background: "var(--dw-bg-raised)" } });
  const bar = el("canvas", { class: "dw-mosaic-colorbar-canvas" });
  const barLo = el("span", { class: "dw-mosaic-bar-lo" });
  const barHi = el("span", { class: "dw-mosaic-bar-hi" });
  const barCaption = el("span", { class: "dw-legend-note" });
  const selNote = el("span", { class: "dw-mosaic-selnote" });
  const legend = el("div", { class: "dw-legend dw-mosaic-legend" }, [
    el("span", { class: "dw-legend-item" }, [swatchBetter, better]),
    el("span", { class: "dw-legend-item" }, [swatchWorse, worse]),
    el("span", { class: "dw-legend-item" }, [swatchSame, same]),
    el("span", { class: "dw-legend-item dw-mosaic-colorbar", title: "colour intensity: change in a cell's image count" }, [barLo, bar, barHi, barCaption]),
    el("span", { class: "dw-legend-note", text: "top cell of a column: predicted right · cell label: predicted class: images · outline: the selection is exactly these cells · dashed, bar: share of a cell selected · click selects, ctrl/⌘-click adds" }),
    selNote,
  ]);
  root.append(title, errorBanner, figure, legend);

  const dpr = window.devicePixelRatio || 1;
  let W = 560; // plot width in CSS pixels: the container's, within [MIN_W, MAX_W]
  let cells = [];
  let data = null;
  let colors = themeColors(root);

  function versions() {
    const [va, vb] = model.get("versions");
    return [va ?? "a", vb ?? "b"];
  }

  function load() {
    const lab = getArray(model, "labels", "uint16", [null]).data;
    const m = [lab.length];
    data = {
      labels: lab,
      a: getArray(model, "pred_a", "uint16", m).data,
      b: getArray(model, "pred_b", "uint16", m).data,
      index: getArray(model, "index", "uint32", m).data,
    };
    const n = model.get("classes").length;
    data.ca = confusionCounts(data.labels, data.a, n);
    data.cb = confusionCounts(data.labels, data.b, n);
    const [va, vb] = versions();
    const [acc0, acc1] = model.get("accuracy");
    title.textContent = `${va} → ${vb} on ${model.get("split") || "all images"}: accuracy ${(100 * (acc0 ?? 0)).toFixed(1)} % → ${(100 * (acc1 ?? 0)).toFixed(1)} %`;
    ytitle.textContent = `predicted class by ${vb} (height ∝ images)`;
    better.textContent = `${vb} better than ${va}`;
    worse.textContent = `${vb} worse than ${va}`;
    same.textContent = "no change";
    better.parentElement.title = `red: ${vb} has more images right in this cell (diagonal) or fewer of this mistake (off it) than ${va}`;
    worse.parentElement.title = `blue: ${vb} has fewer right (diagonal) or more of this mistake (off it) than ${va}`;
    root.setAttribute("data-versions", `${va},${vb}`);
    layout();
  }

  function layout() {
    cells = data && data.labels.length ? mosaicCells(data.ca, data.cb, W - 2 * PAD, H - 2 * PAD) : [];
    for (const c of cells) {
      c.x += PAD;
      c.y += PAD;
    }
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    canvas.style.width = `${W}px`;
    canvas.style.height = `${H}px`;
    plot.style.width = `${W}px`;
    xticks.style.width = `${W}px`;
    draw();
  }

  function selectionState() {
    if (!data) return { counts: new Map(), outside: 0, exact: false, outlined: [] };
    return selectionCells(readSelection(model), data.index, data.labels, data.b);
  }

  function draw() {
    colors = themeColors(root);
    const theme = themeRgb(colors);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = colors.bg; // the background is painted: the canvas follows the theme
    ctx.fillRect(0, 0, W, H);
    const maxAbs = Math.max(1, ...cells.map((c) => Math.abs(c.good)));
    const classes = model.get("classes");
    const sel = selectionState();
    const outlined = new Set(sel.outlined);
    const focusCell = focusKey();
    labels.replaceChildren();
    for (const c of cells) {
      ctx.fillStyle = changeColor(c.good, maxAbs, c.t === c.p, theme);
      ctx.fillRect(c.x, c.y, Math.max(1, c.w), c.h);
      if (c.w >= 30 && c.h >= 16) {
        // the predicted class of the cell and its count under b, as text (never HTML)
        labels.appendChild(
          el("span", {
            class: "dw-mosaic-cell-label",
            text: `${classes[c.p] ?? c.p}: ${c.b}`,
            attrs: { "data-cell": `${c.t},${c.p}` },
            style: { left: `${c.x + 2}px`, top: `${c.y + 2}px`, maxWidth: `${Math.max(10, c.w - 6)}px` },
          }),
        );
      }
    }
    for (const c of cells) {
      const key = `${c.t},${c.p}`;
      const n = sel.counts.get(key) || 0;
      if (outlined.has(key)) {
        ctx.setLineDash([]);
        ctx.strokeStyle = colors.fg;
        ctx.lineWidth = 2.5;
        ctx.strokeRect(c.x + 1.25, c.y + 1.25, Math.max(1, c.w - 2.5), Math.max(1, c.h - 2.5));
      } else if (n > 0) {
        ctx.setLineDash([3, 3]);
        ctx.strokeStyle = colors.fg;
        ctx.lineWidth = 1;
        ctx.strokeRect(c.x + 0.5, c.y + 0.5, Math.max(1, c.w - 1), Math.max(1, c.h - 1));
        ctx.setLineDash([]);
        // the selected share of the cell as a bar along its bottom
        ctx.fillStyle = colors.fg;
        ctx.fillRect(c.x + 1, c.y + c.h - 4, Math.max(1, (c.w - 2) * (n / Math.max(1, c.b))), 3);
      }
      if (key === focusCell) {
        ctx.beginPath();
        ctx.arc(c.x + c.w - 6, c.y + 6, 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = colors.fg;
        ctx.fill();
        ctx.strokeStyle = colors.bg;
        ctx.lineWidth = 1;
        ctx.stroke();
      }
    }
    drawTicks(classes);
    drawColorbar(theme, maxAbs);
    const nSel = selectionCount(model);
    selNote.textContent = !nSel
      ? ""
      : sel.exact
        ? `selection: ${sel.outlined.length} cell${sel.outlined.length > 1 ? "s" : ""}`
        : `selection: ${nSel - sel.outside} of ${nSel} selected images shown here${sel.outside ? ` (${sel.outside} outside this split)` : ""}`;
    root.setAttribute(
      "data-cells",
      JSON.stringify(cells.map((c) => ({ t: c.t, p: c.p, x: c.x, y: c.y, w: c.w, h: c.h, a: c.a, b: c.b }))),
    );
    root.setAttribute("data-outlined-cells", JSON.stringify(sel.outlined));
    root.setAttribute("data-selected-cells", JSON.stringify(Object.fromEntries(sel.counts)));
    root.setAttribute("data-focus-cell", focusCell ?? "");
    root.setAttribute("data-theme", colors.dark ? "dark" : "light");
    root.setAttribute("data-ready", "1");
  }

  function focusKey() {
    const f = model.get("focus");
    if (!data || f < 0) return null;
    for (let i = 0; i < data.index.length; i++) if (data.index[i] === f) return `${data.labels[i]},${data.b[i]}`;
    return null;
  }

  function drawTicks(classes) {
    xticks.replaceChildren();
    const seen = new Set();
    for (const c of cells) {
      if (seen.has(c.t)) continue;
      seen.add(c.t);
      xticks.appendChild(
        el("span", {
          class: "dw-mosaic-xtick",
          text: String(classes[c.t] ?? c.t),
          title: `true class ${classes[c.t] ?? c.t}`,
          style: { left: `${c.x}px`, width: `${Math.max(8, c.w)}px` },
        }),
      );
    }
  }

  function drawColorbar(theme, maxAbs) {
    // the centre of pixel x of BAR_W, from -maxAbs at the left to +maxAbs at the right
    paintColorbar(bar, BAR_W, BAR_H, (t) => changeColor(Math.round(((t * (BAR_W - 1) + 0.5) / BAR_W) * 2 * maxAbs - maxAbs), maxAbs, false, theme));
    const [va, vb] = versions();
    barLo.textContent = `−${maxAbs}`;
    barHi.textContent = `+${maxAbs}`;
    barCaption.textContent = `images ${vb} does better (+) or worse (−) than ${va} in a cell: more right on the diagonal, fewer of a mistake off it`;
    swatchBetter.style.background = changeColor(1, 1, false, theme);
    swatchWorse.style.background = changeColor(-1, 1, false, theme);
    swatchSame.style.background = `rgb(${mixRgb(theme.bg, theme.fg, 0.12).join(",")})`;
  }

  function cellAt(ev) {
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    return cells.find((c) => x >= c.x && x <= c.x + Math.max(1, c.w) && y >= c.y && y <= c.y + c.h);
  }

  function indicesOf(cell) {
    const out = [];
    for (let i = 0; i < data.labels.length; i++) if (data.labels[i] === cell.t && data.b[i] === cell.p) out.push(data.index[i]);
    return out;
  }

  scope.add(hoverTooltip(canvas, tooltip, (ev) => {
    const c = cellAt(ev);
    if (!c) return null;
    const classes = model.get("classes");
    const [va, vb] = versions();
    const d = c.b - c.a;
    const n = selectionState().counts.get(`${c.t},${c.p}`) || 0;
    return [
      `true ${classes[c.t]} → predicted ${classes[c.p]}`,
      `${va}: ${c.a} · ${vb}: ${c.b} (${d > 0 ? "+" : ""}${d})`,
      ...(n ? [`selected: ${n} of ${c.b}`] : []),
    ];
  }));
  scope.bind(canvas, { click: (ev) => {
    const c = cellAt(ev);
    if (!c) return;
    const add = ev.ctrlKey || ev.metaKey;
    const sel = new Set(add ? readSelection(model) : []);
    for (const i of indicesOf(c)) sel.add(i);
    writeSelection(model, [...sel]);
    model.save_changes();
    draw();
  } });

  function resize() {
    const avail = Math.floor(figure.clientWidth - 20);
    const w = Math.max(MIN_W, Math.min(MAX_W, avail > 0 ? avail : 560));
    if (w !== W) {
      W = w;
      layout();
    }
  }

  const handlers = {
    "change:index": () => load(),
    "change:pred_a": () => load(),
    "change:pred_b": () => load(),
    "change:labels": () => load(),
    "change:accuracy": () => load(),
    "change:versions": () => load(),
    "change:selection": () => draw(),
    "change:focus": () => draw(),
    "change:error": () => showError(errorBanner, model.get("error")),
  };
  scope.bind(model, handlers);
  scope.add(onThemeChange(() => draw()));
  const observer = new ResizeObserver(() => resize());
  observer.observe(figure);
  scope.add(() => observer.disconnect());
  load();
  resize();
  showError(errorBanner, model.get("error"));
  return scope.dispose;
}

export default { render };
