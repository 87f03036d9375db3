// One stylesheet for every view, injected once per page.
export const STYLE = `
/* Theme tokens: JupyterLab's --jp-* variables where the host defines them (light and dark
   themes), a light fallback elsewhere (VS Code, Colab, a static HTML export). Every colour below
   and every canvas colour (lib/theme.js) comes from these. */
.dw-root {
  --dw-fg: var(--jp-ui-font-color1, #222);
  --dw-fg-muted: var(--jp-ui-font-color2, #555);
  --dw-fg-faint: var(--jp-ui-font-color3, #777);
  --dw-bg: var(--jp-layout-color0, #fff);
  --dw-bg-alt: var(--jp-layout-color1, #fafafa);
  --dw-bg-raised: var(--jp-layout-color2, #eee);
  --dw-border: var(--jp-border-color1, #bbb);
  --dw-border-faint: var(--jp-border-color2, #e0e0e0);
  --dw-accent: var(--jp-brand-color1, #4c78a8);
  --dw-accent-bg: color-mix(in srgb, var(--dw-accent) 22%, var(--dw-bg));
  --dw-pick: #f58518;
  /* JupyterLab Dark's error red is 3.8:1 on its background: mixed toward the text colour it
     keeps its hue and reads at >= 4.5:1 in both themes */
  --dw-error-fg: color-mix(in srgb, var(--jp-error-color0, #9b1c1c) 60%, var(--dw-fg));
  --dw-error-bg: color-mix(in srgb, var(--dw-error-border) 14%, var(--dw-bg));
  --dw-error-border: var(--jp-error-color1, #f5b5b5);
  --dw-wrong: var(--jp-error-color1, #b91c1c);
  --dw-wrong-border: var(--jp-error-color2, #f2b8b8);
  --dw-tooltip-bg: var(--jp-layout-color1, rgba(255,255,255,0.96));
  --dw-pick-bg: color-mix(in srgb, var(--dw-pick) 14%, var(--dw-bg));
  font: 12px/1.4 var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", sans-serif);
  color: var(--dw-fg);
}
.dw-toolbar { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; margin-bottom: 4px; }
.dw-toolbar button { font: inherit; padding: 2px 8px; border: 1px solid var(--dw-border); background: var(--dw-bg-alt); color: var(--dw-fg); border-radius: 3px; cursor: pointer; }
.dw-toolbar button[aria-pressed="true"] { background: var(--dw-accent-bg); border-color: var(--dw-accent); }
.dw-toolbar select, .dw-root input, .dw-root select { font: inherit; color: var(--dw-fg); background: var(--dw-bg); border: 1px solid var(--dw-border); }
.dw-root button:disabled { opacity: 0.5; cursor: default; }
.dw-sep { width: 8px; }
.dw-split { margin-left: 6px; cursor: pointer; }
.dw-error { display: none; background: var(--dw-error-bg); color: var(--dw-error-fg); border: 1px solid var(--dw-error-border); padding: 4px 8px; margin: 4px 0; border-radius: 3px; white-space: pre-wrap; }
div.dw-plot { position: relative; width: 100%; border: 1px solid var(--dw-border-faint); border-radius: 3px; background: var(--dw-bg); overflow: hidden; }
.dw-plot > canvas { position: absolute; left: 0; top: 0; }
canvas.dw-overlay { border: 0; touch-action: none; }
.dw-tooltip { display: none; position: absolute; pointer-events: none; background: var(--dw-tooltip-bg); color: var(--dw-fg); border: 1px solid var(--dw-border); border-radius: 3px; padding: 4px 6px; box-shadow: 0 1px 4px rgba(0,0,0,0.2); min-width: 150px; z-index: 2; }
.dw-tooltip-thumb { display: block; width: 64px; height: 64px; image-rendering: pixelated; margin-bottom: 3px; }
.dw-legend { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 4px; align-items: center; }
.dw-legend-item { display: inline-flex; align-items: center; gap: 4px; }
.dw-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; }
.dw-legend-note { color: var(--dw-fg-muted); }
.dw-status { color: var(--dw-fg-muted); margin-top: 2px; }
.dw-gallery-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)); gap: 6px; }
.dw-gallery-item { border: 2px solid transparent; border-radius: 3px; padding: 3px; cursor: pointer; background: var(--dw-bg-alt); }
.dw-gallery-item.dw-wrong { border-color: var(--dw-wrong-border); }
.dw-gallery-item.dw-focus { border-color: var(--dw-accent); }
.dw-gallery-item canvas { width: 100%; image-rendering: pixelated; display: block; }
.dw-gallery-item span { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.dw-pred.dw-wrong { color: var(--dw-wrong); }
.dw-empty { color: var(--dw-fg-muted); padding: 12px; white-space: normal; min-width: 240px; }
.dw-attr-grid { display: flex; gap: 6px; overflow-x: auto; align-items: flex-start; padding-bottom: 4px; }
.dw-attr-rowhead, .dw-attr-col { display: flex; flex-direction: column; gap: 3px; flex: none; }
.dw-attr-rowhead span { color: var(--dw-fg-muted); text-align: right; }
.dw-attr-rowhead span:nth-child(1) { height: 32px; }
.dw-attr-rowhead span:nth-child(2), .dw-attr-rowhead span:nth-child(3), .dw-attr-rowhead span:nth-child(4) { height: var(--dw-cell, 64px); line-height: var(--dw-cell, 64px); }
.dw-attr-col { border: 2px solid transparent; border-radius: 3px; padding: 2px; cursor: pointer; background: var(--dw-bg-alt); }
.dw-attr-col.dw-wrong { border-color: var(--dw-wrong-border); }
.dw-attr-col.dw-focus { border-color: var(--dw-accent); }
.dw-attr-col canvas { display: block; image-rendering: pixelated; }
.dw-attr-head { height: 32px; overflow: hidden; }
.dw-attr-head span, .dw-metrics span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 100%; }
.dw-metrics { color: var(--dw-fg-muted); font-size: 10.5px; font-variant-numeric: tabular-nums; }
.dw-progress { display: inline-block; width: 80px; height: 6px; background: var(--dw-bg-raised); border-radius: 3px; overflow: hidden; visibility: hidden; }
.dw-progress-bar { height: 100%; width: 0; background: var(--dw-accent); }
.dw-progress-wide { width: 140px; }
.dw-field { display: inline-flex; flex-direction: column; font-size: 11px; color: var(--dw-fg-muted); margin-right: 4px; }
.dw-field input { width: 80px; font: inherit; font-size: 12px; }
.dw-board-body { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.dw-chart-title { color: var(--dw-fg-muted); margin-bottom: 2px; }
table.dw-versions { border-collapse: collapse; font-size: 12px; }
table.dw-versions th, table.dw-versions td { border-bottom: 1px solid var(--dw-border-faint); padding: 2px 6px; text-align: left; white-space: nowrap; }
tr.dw-version-row.dw-active { background: var(--dw-accent-bg); }
button.dw-discard-confirm { background: var(--dw-error-bg); border-color: var(--dw-error-border); color: var(--dw-error-fg); }
.dw-job-status { color: var(--dw-fg-muted); margin-left: 6px; }
.dw-mosaic-canvas, .dw-trace-canvas { display: block; cursor: pointer; }
.dw-cluster-grid { display: flex; gap: 6px; overflow-x: auto; align-items: flex-start; }
.dw-cluster-col { display: flex; flex-direction: column; gap: 2px; border: 2px solid transparent; border-radius: 3px; padding: 2px; background: var(--dw-bg-alt); flex: none; }
.dw-cluster-col.dw-picked { border-color: var(--dw-pick); background: var(--dw-pick-bg); }
.dw-cluster-head { cursor: pointer; font-size: 11px; color: var(--dw-fg-muted); }
.dw-cluster-col canvas { display: block; image-rendering: pixelated; }
.dw-pair-grid { display: flex; flex-wrap: wrap; gap: 6px; }
.dw-pair { border: 2px solid var(--jp-success-color2, #cfe3cf); border-radius: 3px; padding: 2px; cursor: pointer; background: var(--dw-bg-alt); }
.dw-pair.dw-rejected { border-color: var(--dw-wrong-border); opacity: 0.55; }
.dw-pair-imgs { display: flex; gap: 2px; }
.dw-pair canvas { display: block; image-rendering: pixelated; }
.dw-pair span { display: block; font-size: 11px; }
.dw-aug-summary { min-width: 120px; }
`;

// Every stylesheet a view added, by id (the common one first): hosts that render views inside a
// shadow root (marimo's <marimo-anywidget>) never see <head>'s styles, so each such root that
// holds a view gets its own copy (adoptShadowStyles).
const SHEETS = new Map();
let adoptTimers = [];

/** Add the stylesheet to the page once (every view calls this first). */
export function ensureStyle() {
  SHEETS.set("dashwidgets-style", STYLE);
  scheduleAdopt();
  if (document.getElementById("dashwidgets-style")) return;
  const node = document.createElement("style");
  node.id = "dashwidgets-style";
  node.textContent = STYLE;
  document.head.appendChild(node);
}

/**
 * Add a view's own rules once per page under `id` (a view keeps the CSS only it uses in its own
 * module; colours come from the --dw-* tokens above so that they follow the theme).
 */
export function addStyle(id, css) {
  ensureStyle();
  SHEETS.set(id, css);
  if (document.getElementById(id)) return;
  const node = document.createElement("style");
  node.id = id;
  node.textContent = css;
  document.head.appendChild(node);
}

/**
 * Copy every stylesheet views added into each open shadow root under `start` (nested ones too)
 * that holds a view (a `.dw-root`) and lacks it; returns how many shadow roots got a sheet.
 */
export function adoptShadowStyles(start = document) {
  let adopted = 0;
  const visit = (root) => {
    for (const node of root.querySelectorAll("*")) if (node.shadowRoot) visit(node.shadowRoot);
    if (root === document || !root.querySelector(".dw-root")) return;
    let added = false;
    for (const [id, css] of SHEETS) {
      if (root.querySelector(`style[data-dw-sheet="${id}"]`)) continue;
      const node = document.createElement("style");
      node.setAttribute("data-dw-sheet", id);
      node.textContent = css;
      root.insertBefore(node, root.firstChild);
      added = true;
    }
    adopted += added;
  };
  visit(start);
  return adopted;
}

// A view's root is attached after its render() starts (and a host may attach it later still):
// look on the next frame and twice later, counted from the last view that asked. No shadow root:
// nothing to do.
function scheduleAdopt() {
  if (typeof requestAnimationFrame === "undefined") return;
  const [frame, ...timers] = adoptTimers;
  if (frame !== undefined) cancelAnimationFrame(frame);
  timers.forEach(clearTimeout);
  const run = () => adoptShadowStyles();
  adoptTimers = [requestAnimationFrame(run), setTimeout(run, 300), setTimeout(run, 1500)];
}
