// One stylesheet for every view, injected once per page.
export const STYLE = `
.dw-root { font: 12px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; }
.dw-toolbar { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; margin-bottom: 4px; }
.dw-toolbar button { font: inherit; padding: 2px 8px; border: 1px solid #bbb; background: #f7f7f7; border-radius: 3px; cursor: pointer; }
.dw-toolbar button[aria-pressed="true"] { background: #dbe9f6; border-color: #4c78a8; }
.dw-toolbar select { font: inherit; }
.dw-sep { width: 8px; }
.dw-split { margin-left: 6px; cursor: pointer; }
.dw-error { display: none; background: #fde8e8; color: #9b1c1c; border: 1px solid #f5b5b5; padding: 4px 8px; margin: 4px 0; border-radius: 3px; white-space: pre-wrap; }
div.dw-plot { position: relative; width: 100%; border: 1px solid #ddd; border-radius: 3px; background: #fff; overflow: hidden; }
.dw-plot > canvas { position: absolute; left: 0; top: 0; }
canvas.dw-overlay { border: 0; touch-action: none; }
.dw-tooltip { display: none; position: absolute; pointer-events: none; background: rgba(255,255,255,0.96); border: 1px solid #999; border-radius: 3px; padding: 4px 6px; box-shadow: 0 1px 4px rgba(0,0,0,0.2); min-width: 150px; z-index: 2; }
.dw-tooltip-thumb { display: block; width: 64px; height: 64px; image-rendering: pixelated; margin-bottom: 3px; }
.dw-legend { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 4px; align-items: center; }
.dw-legend-item { display: inline-flex; align-items: center; gap: 4px; }
.dw-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; }
.dw-legend-note { color: #666; }
.dw-status { color: #555; margin-top: 2px; }
.dw-gallery-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)); gap: 6px; }
.dw-gallery-item { border: 2px solid transparent; border-radius: 3px; padding: 3px; cursor: pointer; background: #fafafa; }
.dw-gallery-item.dw-wrong { border-color: #f2b8b8; }
.dw-gallery-item.dw-focus { border-color: #4c78a8; }
.dw-gallery-item canvas { width: 100%; image-rendering: pixelated; display: block; }
.dw-gallery-item span { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.dw-pred.dw-wrong { color: #b91c1c; }
.dw-empty { color: #666; padding: 12px; }
.dw-attr-grid { display: flex; gap: 6px; overflow-x: auto; align-items: flex-start; padding-bottom: 4px; }
.dw-attr-rowhead, .dw-attr-col { display: flex; flex-direction: column; gap: 3px; flex: none; }
.dw-attr-rowhead span { color: #666; text-align: right; }
.dw-attr-rowhead span:nth-child(1) { height: 32px; }
.dw-attr-rowhead span:nth-child(2), .dw-attr-rowhead span:nth-child(3), .dw-attr-rowhead span:nth-child(4) { height: var(--dw-cell, 64px); line-height: var(--dw-cell, 64px); }
.dw-attr-col { border: 2px solid transparent; border-radius: 3px; padding: 2px; cursor: pointer; background: #fafafa; }
.dw-attr-col.dw-wrong { border-color: #f2b8b8; }
.dw-attr-col.dw-focus { border-color: #4c78a8; }
.dw-attr-col canvas { display: block; image-rendering: pixelated; }
.dw-attr-head { height: 32px; overflow: hidden; }
.dw-attr-head span, .dw-metrics span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 100%; }
.dw-metrics { color: #555; font-size: 10.5px; font-variant-numeric: tabular-nums; }
.dw-progress { display: inline-block; width: 80px; height: 6px; background: #eee; border-radius: 3px; overflow: hidden; visibility: hidden; }
.dw-progress-bar { height: 100%; width: 0; background: #4c78a8; }
.dw-progress-wide { width: 140px; }
.dw-field { display: inline-flex; flex-direction: column; font-size: 11px; color: #555; margin-right: 4px; }
.dw-field input { width: 80px; font: inherit; font-size: 12px; }
.dw-board-body { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.dw-chart-title { color: #555; margin-bottom: 2px; }
table.dw-versions { border-collapse: collapse; font-size: 12px; }
table.dw-versions th, table.dw-versions td { border-bottom: 1px solid #eee; padding: 2px 6px; text-align: left; white-space: nowrap; }
tr.dw-version-row.dw-active { background: #eef4fb; }
button.dw-discard-confirm { background: #fde8e8; border-color: #d62728; color: #9b1c1c; }
.dw-job-status { color: #555; margin-left: 6px; }
.dw-mosaic-canvas, .dw-trace-canvas { display: block; cursor: pointer; }
.dw-cluster-grid { display: flex; gap: 6px; overflow-x: auto; align-items: flex-start; }
.dw-cluster-col { display: flex; flex-direction: column; gap: 2px; border: 2px solid transparent; border-radius: 3px; padding: 2px; background: #fafafa; flex: none; }
.dw-cluster-col.dw-picked { border-color: #f58518; background: #fff4e8; }
.dw-cluster-head { cursor: pointer; font-size: 11px; color: #444; }
.dw-cluster-col canvas { display: block; image-rendering: pixelated; }
.dw-pair-grid { display: flex; flex-wrap: wrap; gap: 6px; }
.dw-pair { border: 2px solid #cfe3cf; border-radius: 3px; padding: 2px; cursor: pointer; background: #fafafa; }
.dw-pair.dw-rejected { border-color: #f2b8b8; opacity: 0.55; }
.dw-pair-imgs { display: flex; gap: 2px; }
.dw-pair canvas { display: block; image-rendering: pixelated; }
.dw-pair span { display: block; font-size: 11px; }
.dw-aug-summary { min-width: 120px; }
`;

/** Add the stylesheet to the page once (every view calls this first). */
export function ensureStyle() {
  if (document.getElementById("dashwidgets-style")) return;
  const node = document.createElement("style");
  node.id = "dashwidgets-style";
  node.textContent = STYLE;
  document.head.appendChild(node);
}
