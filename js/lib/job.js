// A view's background job as its traits describe it (state, progress, message): the progress
// bar, the status line, the Cancel button while it runs and, where the view has one, the button
// that runs it again after a cancel or a failure.

/**
 * Returns `sync()`, which shows the job's traits in the given elements and returns its state.
 * `runBtn` is optional (views that rerun by other means have none).
 */
export function jobStatus(model, { root, bar, progress, status, cancelBtn, runBtn = null }) {
  return function sync() {
    const state = model.get("state");
    const running = state === "running";
    bar.style.width = `${Math.round(100 * model.get("progress"))}%`;
    progress.style.visibility = running ? "visible" : "hidden";
    cancelBtn.style.display = running ? "" : "none";
    if (runBtn) runBtn.style.display = state === "cancelled" || state === "failed" ? "" : "none";
    status.textContent = model.get("message");
    root.setAttribute("data-state", state);
    return state;
  };
}
