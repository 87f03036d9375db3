import { describe, expect, it } from "vitest";
import {
  combine,
  decodeSelection,
  encodeSelection,
  readSelection,
  selectionCount,
  selectionEncoding,
  writeSelection,
} from "../lib/selection.js";

// The same fixed cases as tests/widgets/test_selection_wire.py: both sides must produce the same
// bytes, or the kernel would send every browser selection back (and linked views redraw twice).
const bytesOf = (value) => Array.from(new Uint8Array(value.buffer.buffer, value.buffer.byteOffset, value.buffer.byteLength));

function fakeModel(state = {}) {
  const saved = [];
  return { get: (n) => state[n], set: (n, v) => (state[n] = v), save_changes: () => saved.push(1), saved };
}

describe("selection on the wire", () => {
  it("encodes sparse selections as uint32 indices and dense ones as a bitmask, the kernel's bytes", () => {
    const sparse = encodeSelection([5, 1000]);
    expect(sparse).toMatchObject({ encoding: "indices", dtype: "uint32", shape: [2], count: 2 });
    expect(bytesOf(sparse)).toEqual([5, 0, 0, 0, 0xe8, 3, 0, 0]);
    const dense = encodeSelection([0, 3, 9]);
    expect(dense).toMatchObject({ encoding: "bitmask", dtype: "uint8", shape: [2], count: 3 });
    expect(bytesOf(dense)).toEqual([0b1001, 0b10]);
    const empty = encodeSelection([]);
    expect(empty).toMatchObject({ encoding: "indices", shape: [0], count: 0 });
    expect(empty.buffer.byteLength).toBe(0);
  });

  it("picks the smaller encoding by the same rule as the kernel", () => {
    expect(selectionEncoding(0, 0)).toBe("indices");
    expect(selectionEncoding(1, 0)).toBe("bitmask"); // 1 byte < 4
    expect(selectionEncoding(1, 31)).toBe("indices"); // 4 bytes, not fewer
    expect(selectionEncoding(1000, 31999)).toBe("indices"); // 4000 bytes each: a tie stays indices
    expect(selectionEncoding(1000, 31990)).toBe("bitmask");
  });

  it("gives each buffer an ArrayBuffer of its own (ipywidgets sends buffer.buffer whole)", () => {
    for (const idx of [[1, 2, 3], [7, 70000]]) {
      const v = encodeSelection(idx);
      expect(v.buffer.byteOffset).toBe(0);
      expect(v.buffer.buffer.byteLength).toBe(v.buffer.byteLength);
    }
  });

  it("round-trips every density, including 10^6 selected points", () => {
    const cases = [[], [0], [4294967295], [2, 3, 5, 7, 11, 13], Array.from({ length: 5000 }, (_, k) => k * 37)];
    const all = new Uint32Array(1_000_000).map((_, k) => k);
    for (const idx of [...cases, all]) {
      const v = encodeSelection(idx);
      expect(v.count).toBe(idx.length);
      const back = decodeSelection({ ...v }); // a fresh object: decoded, not cached
      expect(back).toBeInstanceOf(Uint32Array);
      expect(back.length).toBe(idx.length);
      expect(back.every((x, k) => x === idx[k])).toBe(true);
    }
    expect(encodeSelection(all).buffer.byteLength).toBe(125_000); // a bitmask, not 4 MB
  });

  it("reads a buffer at an unaligned offset (as a comm frame may hand it)", () => {
    const raw = new Uint8Array(2 + 8);
    raw.set([5, 0, 0, 0, 9, 0, 0, 0], 2);
    const v = { encoding: "indices", dtype: "uint32", shape: [2], count: 2, buffer: new DataView(raw.buffer, 2, 8) };
    expect(Array.from(decodeSelection(v))).toEqual([5, 9]);
  });

  it("reads older plain lists, and names what is malformed", () => {
    expect(Array.from(decodeSelection([3, 4]))).toEqual([3, 4]);
    expect(decodeSelection(null).length).toBe(0);
    expect(() => decodeSelection({ encoding: "rle", dtype: "uint8", shape: [1], buffer: new DataView(new ArrayBuffer(1)) })).toThrow(/unknown encoding rle/);
    expect(() => decodeSelection(7)).toThrow(/expected \{encoding/);
    expect(() => decodeSelection({ encoding: "indices", dtype: "uint32", shape: [1], buffer: new DataView(new ArrayBuffer(3)) })).toThrow(/3 bytes/);
  });
});

describe("what neither side may send, and what a saved state may hold", () => {
  it("decodes unsorted or repeated indices sorted and unique, as decode_selection does", () => {
    const raw = new Uint32Array([9, 2, 2, 5]);
    const v = { encoding: "indices", dtype: "uint32", shape: [4], count: 4, buffer: new DataView(raw.buffer) };
    expect(Array.from(decodeSelection(v))).toEqual([2, 5, 9]);
    expect(Array.from(decodeSelection([4, 1, 4]))).toEqual([1, 4]);
  });

  it("refuses to encode indices that are unsorted, repeated, negative or past 2^32 (they would wrap)", () => {
    for (const bad of [[5, 2], [3, 3], [-1], [2 ** 32], [0, 2 ** 32 + 5], [1.5]]) {
      expect(() => encodeSelection(bad)).toThrow(/ascending unique indices/);
    }
    expect(encodeSelection([2 ** 32 - 1]).count).toBe(1);
  });
});

describe("readSelection / writeSelection", () => {
  it("write sorts and deduplicates, read gives the ascending indices and the count", () => {
    const model = fakeModel();
    writeSelection(model, [9, 2, 2, 5]);
    expect(Array.from(readSelection(model))).toEqual([2, 5, 9]);
    expect(selectionCount(model)).toBe(3);
    expect(model.get("selection").buffer).toBeInstanceOf(DataView);
    writeSelection(model, new Uint32Array([40000, 10]));
    expect(model.get("selection").encoding).toBe("indices");
    expect(Array.from(readSelection(model))).toEqual([10, 40000]);
  });

  it("copies between models as jslink does: the same object reads the same everywhere", () => {
    const a = fakeModel(), b = fakeModel();
    writeSelection(a, Array.from({ length: 300 }, (_, k) => 2 * k));
    b.set("selection", a.get("selection"));
    expect(Array.from(readSelection(b))).toEqual(Array.from(readSelection(a)));
    expect(readSelection(b)).toBe(readSelection(a)); // decoded once per value
  });

  it("combines large selections by merging (add / remove), ascending and unique", () => {
    const prev = Uint32Array.from({ length: 100_000 }, (_, k) => 2 * k); // evens
    const hits = Array.from({ length: 100_000 }, (_, k) => 3 * k); // multiples of 3
    const added = combine(prev, hits, "add");
    const expected = [...new Set([...prev, ...hits])].sort((x, y) => x - y);
    expect(added.length).toBe(expected.length);
    expect(added.every((x, k) => x === expected[k])).toBe(true);
    const removed = combine(prev, hits, "remove");
    expect(removed.length).toBe(prev.filter((x) => x % 3 !== 0).length);
    expect(removed.every((x) => x % 2 === 0 && x % 3 !== 0)).toBe(true);
    expect(combine([1, 5], [5, 1, 3], "add")).toEqual([1, 3, 5]); // unsorted hits
  });
});
