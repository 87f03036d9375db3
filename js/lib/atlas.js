// PNG sprite atlases sent by the kernel: decode the newest one, draw one cell.

import { blobOf } from "./binary.js";

/**
 * A decoder that keeps only the newest atlas: `decode(bytes)` resolves to an ImageBitmap (null
 * for empty bytes), or to `undefined` when a later call superseded it while it decoded.
 */
export function latestAtlas() {
  let token = 0;
  return async (bytes) => {
    const t = ++token;
    const bitmap = bytes && bytes.byteLength ? await createImageBitmap(blobOf(bytes)) : null;
    return t === token ? bitmap : undefined;
  };
}

/**
 * Redraws coalesced into one microtask, re-decoding `model`'s `trait` atlas only when it changed:
 * returns `schedule(atlasChanged = false)`; `draw(atlas)` runs with the newest decoded ImageBitmap
 * (null while there is none). A decode superseded by a newer atlas draws nothing.
 */
export function atlasRedraw(model, draw, trait = "atlas") {
  const decode = latestAtlas();
  let atlas = null, dirty = true, scheduled = false;
  async function refresh() {
    scheduled = false;
    if (dirty) {
      dirty = false;
      const bitmap = await decode(model.get(trait));
      if (bitmap === undefined) return; // a newer atlas took over
      atlas = bitmap;
    }
    draw(atlas);
  }
  return (atlasChanged = false) => {
    if (atlasChanged) dirty = true;
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(refresh);
  };
}

/** Draw cell `k` of `atlas` (`cols` cells a row, `cell` px square) into `ctx` at w x h, pixelated. */
export function drawCell(ctx, atlas, k, cols, cell, w = cell, h = cell) {
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(atlas, (k % cols) * cell, Math.floor(k / cols) * cell, cell, cell, 0, 0, w, h);
}
