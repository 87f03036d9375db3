// The engine's shared image snapshot (dashwidgets/widgets/_snapshot.py): every image's thumbnail
// in one WebP atlas plus per-version facts (pred, confidence, loss, correct), held by a widget
// model without a view that the views point at. With it, views draw images and page through a
// selection without a kernel (an exported page, a stopped kernel).

import { blobOf, decodeArray } from "./binary.js";

const PREFIX = "IPY_MODEL_";

/** The model a widget-reference trait points at (a Promise), or null when it is unset. */
export async function referencedModel(model, trait) {
  const ref = model.get(trait);
  if (!ref) return null;
  if (typeof ref !== "string") return ref; // a manager that deserialized it already
  const id = ref.startsWith(PREFIX) ? ref.slice(PREFIX.length) : ref;
  return model.widget_manager.get_model(id);
}

/** The kernel connection behind a widget model's comm (JupyterLab), or null (an exported page). */
function kernelOf(model) {
  const comm = model && model.comm && model.comm.jsServicesComm;
  return (comm && (comm.kernel || comm._kernel)) || null;
}

/**
 * True while the kernel can answer the view: the snapshot model's comm is open and, in
 * JupyterLab, its kernel is neither shut down nor dead (a shut-down kernel leaves comm_live set).
 * A host without ipywidgets comms (marimo: its models have no `comm_live` at all) talks to its
 * kernel its own way and counts as live; an exported page's models have `comm_live` false.
 */
export function kernelLive(snapshotModel) {
  if (!snapshotModel) return false;
  if (snapshotModel.comm_live === undefined && snapshotModel.comm === undefined) return true;
  if (!snapshotModel.comm_live) return false;
  const services = snapshotModel.comm && snapshotModel.comm.jsServicesComm;
  if (services && services.isDisposed) return false;
  const kernel = kernelOf(snapshotModel);
  return !(kernel && (kernel.isDisposed || kernel.status === "dead" || kernel.connectionStatus === "disconnected"));
}

/** Call `fn` when the kernel behind `model` changes status or goes away; returns the unsubscriber. */
function onKernelChange(model, fn) {
  const kernel = kernelOf(model);
  const signals = kernel ? [kernel.statusChanged, kernel.connectionStatusChanged, kernel.disposed].filter((s) => s && s.connect) : [];
  for (const s of signals) s.connect(fn);
  return () => signals.forEach((s) => s.disconnect(fn));
}

/**
 * The snapshot model's arrays, decoded (no copies): `{n, m, cell, cols, indices, label, split,
 * classes, versions, version(id), slotOf(i)}`. `slotOf(i)` is image i's atlas cell, or -1 when the
 * image budget left it out; `version(id)` is `{pred, confidence, loss, correct}` (typed arrays over
 * the kept images) or null for a version the snapshot does not hold.
 */
export function decodeSnapshot(smodel) {
  const get = (name, dtype, shape) => decodeArray(smodel.get(name), { dtype, shape, name: `snapshot.${name}` }).data;
  const indices = get("indices", "int32", [null]);
  const n = smodel.get("n_images");
  const m = indices.length;
  const versions = smodel.get("versions") || [];
  const rows = {};
  for (const [name, dtype] of [["pred", "uint16"], ["confidence", "float32"], ["loss", "float32"], ["correct", "uint8"]]) {
    rows[name] = get(name, dtype, [null, null]);
  }
  const full = m === n;
  return {
    n,
    m,
    cell: smodel.get("cell"),
    cols: smodel.get("cols"),
    mime: smodel.get("mime") || "image/webp",
    indices,
    label: get("label", "uint16", [null]),
    split: get("split_code", "uint8", [null]),
    classes: smodel.get("classes") || [],
    versions,
    version(id) {
      const v = versions.indexOf(id);
      if (v < 0) return null;
      const row = (a) => a.subarray(v * m, (v + 1) * m);
      return { pred: row(rows.pred), confidence: row(rows.confidence), loss: row(rows.loss), correct: row(rows.correct) };
    },
    slotOf: full ? (i) => (i >= 0 && i < n ? i : -1) : (i) => searchSorted(indices, i),
  };
}

/** Position of `value` in the ascending `sorted`, or -1. */
export function searchSorted(sorted, value) {
  let lo = 0, hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = sorted[mid];
    if (x === value) return mid;
    if (x < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Follow a view's `snapshot` trait: `onReady(snap, smodel)` runs with the decoded snapshot and its
 * atlas as `snap.bitmap` (an ImageBitmap, null when empty) each time it (or the reference)
 * changes; `onReady(null, null)` when the view has none. Returns a function that stops following.
 */
export function followSnapshot(model, onReady, trait = "snapshot") {
  let token = 0, current = null, stopped = false, last = null;
  const liveChanged = () => last && onReady(last, current); // the kernel went away (or came back)
  let unwatchKernel = () => {};
  let lastBytes = null, lastBitmap = null; // decode the atlas again only when it changed
  const refresh = async () => {
    const t = ++token;
    if (current) {
      current.off("change", refresh);
      current.off("comm_live_update", liveChanged);
    }
    unwatchKernel();
    current = null;
    last = null;
    let smodel;
    try {
      smodel = await referencedModel(model, trait);
    } catch {
      smodel = null; // a reference the manager cannot resolve: no snapshot
    }
    if (t !== token || stopped) return;
    if (!smodel) return onReady(null, null);
    current = smodel;
    smodel.on("change", refresh);
    smodel.on("comm_live_update", liveChanged);
    unwatchKernel = onKernelChange(smodel, liveChanged);
    let snap;
    try {
      snap = decodeSnapshot(smodel);
      const bytes = smodel.get("atlas");
      if (bytes !== lastBytes) {
        lastBitmap = bytes && bytes.byteLength ? await createImageBitmap(blobOf(bytes, snap.mime)) : null;
        lastBytes = bytes;
      }
      snap.bitmap = lastBitmap;
    } catch {
      snap = null; // a malformed snapshot: the view works as without one
    }
    if (t === token && !stopped) {
      last = snap;
      onReady(snap, smodel);
    }
  };
  model.on(`change:${trait}`, refresh);
  refresh();
  return () => {
    stopped = true;
    model.off(`change:${trait}`, refresh);
    if (current) {
      current.off("change", refresh);
      current.off("comm_live_update", liveChanged);
    }
    unwatchKernel();
  };
}
