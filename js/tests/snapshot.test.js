import { describe, expect, it } from "vitest";
import { offlineNote, offlinePage } from "../lib/gallery-offline.js";
import { decodeSnapshot, kernelLive, searchSorted } from "../lib/snapshot.js";
import { ThumbnailCache } from "../lib/thumbnails.js";

// A snapshot model as the kernel sends it: arrays as {dtype, shape, buffer}.
function arr(Ctor, dtype, values, shape) {
  const a = Ctor.from(values);
  return { dtype, shape: shape || [a.length], buffer: new DataView(a.buffer) };
}
function fakeSnapshot({ n, indices, label, split, versions, pred, confidence, loss, correct, classes }) {
  const v = versions.length, m = indices.length;
  const traits = {
    n_images: n, cell: 16, cols: 3, mime: "image/webp", classes, versions,
    indices: arr(Int32Array, "int32", indices), label: arr(Uint16Array, "uint16", label), split_code: arr(Uint8Array, "uint8", split),
    pred: arr(Uint16Array, "uint16", pred, [v, m]), confidence: arr(Float32Array, "float32", confidence, [v, m]),
    loss: arr(Float32Array, "float32", loss, [v, m]), correct: arr(Uint8Array, "uint8", correct, [v, m]),
  };
  return { get: (k) => traits[k] };
}

// 6 images, all kept; two versions
const snap = decodeSnapshot(
  fakeSnapshot({
    n: 6, indices: [0, 1, 2, 3, 4, 5], classes: ["a", "b"], versions: ["v1", "v2"],
    label: [0, 1, 0, 1, 0, 1], split: [0, 0, 1, 2, 2, 2],
    pred: [0, 0, 0, 1, 1, 1, /* v2 */ 0, 1, 0, 1, 0, 1],
    confidence: [0.9, 0.6, 0.7, 0.8, 0.5, 0.6, 1, 1, 1, 1, 1, 1],
    loss: [0.1, 0.9, 0.3, 0.2, 0.7, 0.5, 0, 0, 0, 0, 0, 0],
    correct: [1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1],
  }),
);
const q = (over) => ({ selection: [], sort_by: "index", descending: false, version: "v1", page_size: 40, page: 0, filter_label: "", filter_pred: "", filter_split: "", filter_correct: "", filter_tag: "", ...over });
const idx = (r) => r.items.map((it) => it.index);

describe("offline gallery page", () => {
  it("shows the selection in index order with the version's facts", () => {
    const r = offlinePage(snap, q({ selection: [4, 1, 3] }));
    expect(idx(r)).toEqual([1, 3, 4]);
    expect(r.items[0]).toMatchObject({ label: "b", pred: "a", correct: false, slot: 1 });
    expect([r.total, r.base, r.missing]).toEqual([3, 3, 0]);
    expect(offlinePage(snap, q({ selection: [1], version: "v2" })).items[0].pred).toBe("b");
  });
  it("shows nothing without a selection or a filter, all images with a filter", () => {
    expect(offlinePage(snap, q({})).total).toBe(0);
    const r = offlinePage(snap, q({ filter_split: "test" }));
    expect(idx(r)).toEqual([3, 4, 5]);
    expect(r.base).toBe(6);
  });
  it("filters by label, prediction, split and correctness", () => {
    const all = [0, 1, 2, 3, 4, 5];
    expect(idx(offlinePage(snap, q({ selection: all, filter_label: "b" })))).toEqual([1, 3, 5]);
    expect(idx(offlinePage(snap, q({ selection: all, filter_pred: "b" })))).toEqual([3, 4, 5]);
    expect(idx(offlinePage(snap, q({ selection: all, filter_correct: "wrong" })))).toEqual([1, 4]);
    expect(idx(offlinePage(snap, q({ selection: all, filter_split: "train", filter_correct: "correct" })))).toEqual([0]);
  });
  it("sorts stably by confidence or loss, reverses when descending, and pages", () => {
    const all = [0, 1, 2, 3, 4, 5];
    expect(idx(offlinePage(snap, q({ selection: all, sort_by: "confidence" })))).toEqual([4, 1, 5, 2, 3, 0]);
    expect(idx(offlinePage(snap, q({ selection: all, sort_by: "loss", descending: true })))).toEqual([1, 4, 5, 2, 3, 0]);
    const p = offlinePage(snap, q({ selection: all, page_size: 4, page: 1 }));
    expect([idx(p), p.page]).toEqual([[4, 5], 1]);
    expect(offlinePage(snap, q({ selection: all, page_size: 4, page: 9 })).page).toBe(1); // clamped
  });
  it("says when a version is not in the snapshot", () => {
    expect(offlinePage(snap, q({ selection: [1], version: "v9" })).error).toMatch(/v9/);
  });
});

describe("subsampled snapshot", () => {
  const sub = decodeSnapshot(
    fakeSnapshot({ n: 10, indices: [0, 4, 8], classes: ["a"], versions: ["v1"], label: [0, 0, 0], split: [0, 0, 0], pred: [0, 0, 0], confidence: [1, 1, 1], loss: [0, 0, 0], correct: [1, 1, 1] }),
  );
  it("finds kept images and counts the others as missing", () => {
    expect([sub.slotOf(4), sub.slotOf(5), sub.slotOf(8)]).toEqual([1, -1, 2]);
    const r = offlinePage(sub, q({ selection: [3, 4, 8, 9] }));
    expect(idx(r)).toEqual([4, 8]);
    expect(r.missing).toBe(2);
    expect(offlineNote(r, sub)).toMatch(/2 image\(s\) have no thumbnail/);
  });
  it("searches a sorted array", () => {
    expect([searchSorted([1, 3, 7], 7), searchSorted([1, 3, 7], 2), searchSorted([], 0)]).toEqual([2, -1, -1]);
  });
});

describe("thumbnails from the snapshot", () => {
  it("answers from the atlas and asks the kernel only for images the snapshot left out", () => {
    const sent = [];
    const cache = new ThumbnailCache((m) => sent.push(m), () => {}, 100);
    const sub = decodeSnapshot(
      fakeSnapshot({ n: 10, indices: [0, 4, 8], classes: ["a"], versions: [], label: [0, 0, 0], split: [0, 0, 0], pred: [], confidence: [], loss: [], correct: [] }),
    );
    sub.bitmap = { fake: true };
    cache.useSnapshot(sub);
    expect(cache.get(8)).toEqual({ bitmap: sub.bitmap, sx: 32, sy: 0, size: 16 });
    cache.want([0, 4, 5, 8]);
    expect(sent.map((m) => m.indices)).toEqual([[5]]);
    cache.useSnapshot(sub, () => true); // kernel gone: no requests
    cache.want([6]);
    expect(sent.length).toBe(1);
  });
});

describe("is the kernel there", () => {
  it("an exported page's model (comm_live false, no comm) has no kernel", () => {
    expect(kernelLive({ comm_live: false, get: () => null })).toBe(false);
    expect(kernelLive(null)).toBe(false);
  });
  it("a JupyterLab model with an open comm has one, until its kernel is shut down or dies", () => {
    const kernel = { isDisposed: false, status: "idle", connectionStatus: "connected" };
    const model = { comm_live: true, comm: { jsServicesComm: { kernel, isDisposed: false } } };
    expect(kernelLive(model)).toBe(true);
    kernel.status = "dead";
    expect(kernelLive(model)).toBe(false);
    expect(kernelLive({ comm_live: false, comm: {} })).toBe(false);
  });
  it("a host without ipywidgets comms (marimo's models have no comm_live) answers through its own channel", () => {
    expect(kernelLive({ get: () => null, send: () => {} })).toBe(true);
  });
});
