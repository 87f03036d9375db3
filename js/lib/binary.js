// Decode binary traits. Arrays travel as {dtype, shape, buffer} (dashwidgets/widgets/_codec.py),
// the buffer arriving as a DataView (no base64); `decodeArray` is the one reader of them.

const CTORS = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/**
 * View a bytes trait as a typed array without copying when the buffer is aligned.
 * @param {DataView|ArrayBuffer|Uint8Array|null|undefined} bytes
 * @param {"float32"|"uint8"|"uint16"|"int32"|"uint32"} dtype
 * @returns {Float32Array|Uint8Array|Uint16Array|Int32Array|Uint32Array}
 */
export function typed(bytes, dtype) {
  const Ctor = CTORS[dtype];
  if (!Ctor) throw new Error(`unknown dtype ${dtype}; expected one of ${Object.keys(CTORS).join(", ")}`);
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

/**
 * Decode an array trait sent by the kernel's codec and check it is what the view expects.
 *
 * @param {{dtype: string, shape: number[], buffer: DataView|ArrayBuffer|Uint8Array}} value
 * @param {{dtype: string, shape: (number|null)[], name?: string}} expected
 *   `shape` lists each axis: a number must match, null takes any length.
 * @returns {{data: Int8Array|Uint8Array|Int16Array|Uint16Array|Int32Array|Uint32Array|Float32Array|Float64Array, shape: number[]}}
 *   the values (row-major, no copy when aligned) and their shape.
 * @throws {Error} naming the trait when the dtype, the number of axes, a fixed axis or the byte
 *   length is not the expected one.
 */
export function decodeArray(value, { dtype, shape, name = "array" }) {
  if (!CTORS[dtype]) throw new Error(`${name}: cannot expect unknown dtype ${dtype}`);
  if (value == null || typeof value !== "object" || !("buffer" in value) || !Array.isArray(value.shape)) {
    throw new Error(`${name}: expected an array {dtype, shape, buffer} (${dtype} [${fmt(shape)}]), got ${describe(value)}`);
  }
  if (value.dtype !== dtype) {
    throw new Error(`${name}: expected ${dtype} [${fmt(shape)}], got dtype ${value.dtype}`);
  }
  const got = value.shape;
  if (got.length !== shape.length || shape.some((s, k) => s !== null && s !== got[k])) {
    throw new Error(`${name}: expected shape [${fmt(shape)}], got [${got.join(", ")}]`);
  }
  const data = typed(value.buffer, dtype);
  const count = got.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new Error(`${name}: shape [${got.join(", ")}] needs ${count} ${dtype} values, the buffer holds ${data.length}`);
  }
  return { data, shape: got.slice() };
}

function fmt(shape) {
  return shape.map((s) => (s === null ? "*" : String(s))).join(", ");
}

function describe(value) {
  if (value == null) return String(value);
  if (value instanceof DataView || value instanceof ArrayBuffer) return "raw bytes (no dtype or shape)";
  return typeof value;
}

/** `decodeArray` of the model's trait `name` (the error names the trait). */
export function getArray(model, name, dtype, shape) {
  return decodeArray(model.get(name), { dtype, shape, name });
}
