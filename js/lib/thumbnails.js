// Lazily loaded image thumbnails: from the engine's image snapshot when the view has one
// (lib/snapshot.js; no request), else ask the kernel for a PNG atlas of the indices still missing.

import { blobOf } from "./binary.js";

export class ThumbnailCache {
  /**
   * @param {(content: object) => void} send posts a custom message to the kernel
   * @param {() => void} onLoad called when new thumbnails are ready (schedule a redraw)
   * @param {number} batch indices per request
   */
  constructor(send, onLoad, batch = 400) {
    this.send = send;
    this.onLoad = onLoad;
    this.batch = batch;
    this.entries = new Map(); // index -> {bitmap, sx, sy, size}
    this.pending = new Set();
    this.requests = new Map(); // id -> indices
    this.nextId = 1;
    this.snapshot = null; // decoded snapshot with its bitmap (lib/snapshot.js), or null
    this.offline = () => false; // true while the kernel cannot answer: send no requests
  }

  /** Use the decoded image snapshot `snap` (null: none) for the images it holds; `offline()`
   * says when the kernel is gone (no requests then). */
  useSnapshot(snap, offline = () => false) {
    this.snapshot = snap && snap.bitmap ? snap : null;
    this.offline = offline;
  }

  get(i) {
    const hit = this.entries.get(i);
    if (hit || !this.snapshot) return hit;
    const slot = this.snapshot.slotOf(i);
    if (slot < 0) return undefined;
    const { bitmap, cols, cell } = this.snapshot;
    return { bitmap, sx: (slot % cols) * cell, sy: Math.floor(slot / cols) * cell, size: cell };
  }

  /** Request every index of `indices` not loaded or pending yet. */
  want(indices) {
    const missing = [];
    if (this.offline()) return;
    const snap = this.snapshot;
    for (const i of indices) {
      if (!this.entries.has(i) && !this.pending.has(i) && !(snap && snap.slotOf(i) >= 0)) missing.push(i);
    }
    for (let k = 0; k < missing.length; k += this.batch) {
      const chunk = missing.slice(k, k + this.batch);
      const id = this.nextId++;
      for (const i of chunk) this.pending.add(i);
      this.requests.set(id, chunk);
      try {
        this.send({ type: "thumbs", id, indices: chunk });
      } catch {
        for (const i of chunk) this.pending.delete(i); // no kernel to ask; try again later
        this.requests.delete(id);
        return;
      }
    }
  }

  /** Handle the kernel's reply {type: "thumbs", id, indices, cols, size} with one PNG buffer. */
  async receive(msg, buffers) {
    if (!msg || msg.type !== "thumbs") return false;
    const asked = this.requests.get(msg.id) || msg.indices;
    this.requests.delete(msg.id);
    for (const i of asked) this.pending.delete(i);
    if (!buffers || !buffers.length) return true;
    const bitmap = await createImageBitmap(blobOf(buffers[0]));
    const { cols, size } = msg;
    msg.indices.forEach((i, k) => {
      this.entries.set(i, { bitmap, sx: (k % cols) * size, sy: Math.floor(k / cols) * size, size });
    });
    this.onLoad();
    return true;
  }

  clear() {
    this.entries.clear();
    this.pending.clear();
    this.requests.clear();
  }
}
