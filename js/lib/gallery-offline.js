// The ImageGallery without a kernel: the page the kernel would send, computed in the browser from
// the engine's image snapshot (lib/snapshot.js). Same rules as ImageGallery.shown / ordered /
// _render_page in dashwidgets/widgets/gallery.py: the filters apply to the selection, or to all
// images when nothing is selected and a filter is set; sort by index, confidence or loss (stable,
// then reversed when descending); the page is clamped to the last one. Tags need the kernel.

import { readSelection } from "./selection.js";
import { followSnapshot, kernelLive } from "./snapshot.js";

export const QUERY_TRAITS = ["selection", "sort_by", "descending", "version", "page_size", "filter_label", "filter_pred", "filter_split", "filter_correct", "filter_tag"];
const SPLITS = ["train", "val", "test"];

/**
 * One page of the gallery from the snapshot `snap` (decodeSnapshot's object) for the query `q`
 * (the gallery's traits by name). Returns `{items, total, base, page, missing, tagIgnored}` or
 * `{error}` when the snapshot does not hold `q.version`. `items[k]` is `{index, label, pred,
 * confidence, loss, correct, slot}` (`slot`: the image's atlas cell); `missing` counts images of
 * the base the snapshot left out (the image budget), which cannot be shown or filtered.
 */
export function offlinePage(snap, q) {
  const facts = snap.version(q.version);
  if (!facts) return { error: `this page holds no per-image facts for version ${q.version}` };
  const filtering = ["filter_label", "filter_pred", "filter_split", "filter_correct", "filter_tag"].some((f) => q[f]);
  const selection = q.selection || [];
  let slots, base, missing = 0;
  if (selection.length) {
    base = selection.length;
    slots = [];
    for (const i of selection) {
      const s = snap.slotOf(i);
      if (s < 0) missing++;
      else slots.push(s);
    }
  } else if (filtering) {
    base = snap.n;
    missing = snap.n - snap.m;
    slots = Array.from({ length: snap.m }, (_, s) => s);
  } else {
    return { items: [], total: 0, base: 0, page: 0, missing: 0, tagIgnored: false };
  }
  const label = q.filter_label ? snap.classes.indexOf(q.filter_label) : -1;
  const pred = q.filter_pred ? snap.classes.indexOf(q.filter_pred) : -1;
  const split = q.filter_split ? SPLITS.indexOf(q.filter_split) : -1;
  const correct = q.filter_correct === "correct" ? 1 : q.filter_correct === "wrong" ? 0 : -1;
  let shown = slots.filter(
    (s) =>
      (label < 0 || snap.label[s] === label) &&
      (pred < 0 || facts.pred[s] === pred) &&
      (split < 0 || snap.split[s] === split) &&
      (correct < 0 || (facts.correct[s] ? 1 : 0) === correct),
  );
  // slots ascend with the image index (snapshot indices are sorted), as the kernel's order does
  shown.sort((a, b) => a - b);
  if (q.sort_by === "confidence" || q.sort_by === "loss") {
    const key = q.sort_by === "confidence" ? facts.confidence : facts.loss;
    shown = shown.map((s, k) => [s, k]).sort((a, b) => key[a[0]] - key[b[0]] || a[1] - b[1]).map((p) => p[0]);
  }
  if (q.descending) shown.reverse();
  const size = Math.max(1, q.page_size | 0);
  const pages = Math.max(1, Math.ceil(shown.length / size));
  const page = Math.min(Math.max(q.page | 0, 0), pages - 1);
  const items = shown.slice(page * size, (page + 1) * size).map((s) => ({
    index: snap.indices[s],
    label: snap.classes[snap.label[s]],
    pred: snap.classes[facts.pred[s]],
    confidence: facts.confidence[s],
    loss: facts.loss[s],
    correct: facts.correct[s] === 1,
    slot: s,
  }));
  return { items, total: shown.length, base, page, missing, tagIgnored: !!q.filter_tag };
}

/** The note an offline gallery shows: what works without the kernel and what is left out. */
export function offlineNote(result, snap) {
  const parts = [`No kernel: paging, sorting and filtering from this page's image snapshot (${snap.m.toLocaleString("en-US")} of ${snap.n.toLocaleString("en-US")} images, ${snap.cell} px); tags, CSV export and the detail panel need the kernel.`];
  if (result.missing) parts.push(`${result.missing.toLocaleString("en-US")} image(s) have no thumbnail in this page (image budget) and are not shown.`);
  if (result.tagIgnored) parts.push("The tag filter is ignored.");
  return parts.join(" ");
}

/**
 * The gallery's offline source: follows the view's `snapshot` and says whether the kernel is
 * gone. `active()` is true when a snapshot is loaded and its comm is closed; `page()` is
 * offlinePage for the model's current traits plus `note`; `draw(ctx, item, w, h)` draws an item's
 * thumbnail. `onChange()` runs when the snapshot arrives or changes. Returns also `stop()`.
 */
export function offlineGallery(model, onChange) {
  let snap = null, smodel = null;
  const stop = followSnapshot(model, (s, m) => {
    snap = s;
    smodel = m;
    onChange();
  });
  const query = () => ({ ...Object.fromEntries([...QUERY_TRAITS, "page"].map((t) => [t, model.get(t)])), selection: readSelection(model) });
  return {
    active: () => !!snap && !kernelLive(smodel),
    page() {
      const r = offlinePage(snap, query());
      if (!r.error) r.note = offlineNote(r, snap);
      return r;
    },
    draw(ctx, item, w, h) {
      if (!snap || !snap.bitmap || item.slot < 0) return;
      const c = snap.cell, cols = snap.cols;
      ctx.imageSmoothingEnabled = w < c;
      ctx.drawImage(snap.bitmap, (item.slot % cols) * c, Math.floor(item.slot / cols) * c, c, c, 0, 0, w, h);
    },
    stop,
  };
}
