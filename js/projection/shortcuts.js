// The projection's keyboard shortcuts (lib/keys.js makes them active while the view has focus):
// l / b / p pick the lasso, box or pan tool, r resets the view, Esc clears the selection.

/** @param {object} ctl `setTool(name)`, `reset()`, `clear()` (what the toolbar's buttons do) */
export function projectionShortcuts(ctl) {
  return [
    { keys: ["l"], label: "lasso tool", run: () => ctl.setTool("lasso") },
    { keys: ["b"], label: "box tool", run: () => ctl.setTool("box") },
    { keys: ["p"], label: "pan tool", run: () => ctl.setTool("pan") },
    { keys: ["r"], label: "reset the view (fit every point)", run: () => ctl.reset() },
    { keys: ["Escape"], label: "clear the selection (every linked view)", run: () => ctl.clear() },
  ];
}
