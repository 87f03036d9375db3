// Decode binary traits: anywidget hands bytes traits to JS as DataView (no base64).

const CTORS = {
  float32: Float32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
};

/**
 * View a bytes trait as a typed array without copying when the buffer is aligned.
 * @param {DataView|ArrayBuffer|Uint8Array|null|undefined} bytes
 * @param {"float32"|"uint8"|"uint16"|"int32"|"uint32"} dtype
 * @returns {Float32Array|Uint8Array|Uint16Array|Int32Array|Uint32Array}
 */
export function typed(bytes, dtype) {
  const Ctor = CTORS[dtype];
  if (!Ctor) throw new Error(`unknown dtype ${dtype}`);
  if (bytes == null) return new Ctor(0);
  let buffer, offset, length;
  if (bytes instanceof ArrayBuffer) {
    buffer = bytes;
    offset = 0;
    length = bytes.byteLength;
  } else {
    buffer = bytes.buffer;
    offset = bytes.byteOffset;
    length = bytes.byteLength;
  }
  if (length % Ctor.BYTES_PER_ELEMENT !== 0) {
    throw new Error(`${length} bytes is not a whole number of ${dtype} values`);
  }
  if (offset % Ctor.BYTES_PER_ELEMENT === 0) {
    return new Ctor(buffer, offset, length / Ctor.BYTES_PER_ELEMENT);
  }
  // Unaligned view: copy the bytes into a fresh, aligned buffer.
  const copy = new Uint8Array(length);
  copy.set(new Uint8Array(buffer, offset, length));
  return new Ctor(copy.buffer);
}

/** Bytes of a DataView / ArrayBuffer as a Blob of the given MIME type (for PNG atlases). */
export function blobOf(bytes, type = "image/png") {
  if (bytes instanceof ArrayBuffer) return new Blob([bytes], { type });
  return new Blob([new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)], { type });
}
