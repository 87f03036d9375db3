// The projection view's own rules (colours from the --dw-* theme tokens of lib/style.js).

// axis titles: discreet, in the plot's corners (t-SNE axes have no units)
export const CSS = `
.dw-projection .dw-axis-title { position: absolute; pointer-events: none; font-size: 11px; color: var(--dw-fg-muted); background: var(--dw-bg); padding: 0 3px; border-radius: 2px; z-index: 1; }
.dw-projection .dw-axis-x { right: 4px; bottom: 2px; }
.dw-projection .dw-axis-y { left: 2px; top: 4px; writing-mode: vertical-rl; transform: rotate(180deg); }
.dw-projection .dw-tool-label { color: var(--dw-fg-muted); }
.dw-projection .dw-split { display: inline-flex; align-items: center; gap: 3px; }
.dw-projection .dw-split.dw-disabled { color: var(--dw-fg-muted); cursor: default; }
.dw-projection .dw-swatch.dw-square { border-radius: 2px; }
.dw-projection .dw-swatch.dw-line { width: 14px; height: 3px; border-radius: 1px; }
.dw-projection .dw-legend-title { color: var(--dw-fg-muted); margin-left: 4px; }
`;
