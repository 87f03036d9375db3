import { describe, expect, it } from "vitest";
import { decodeArray, getArray } from "../lib/binary.js";

// What dashwidgets/widgets/_codec.py's array_to_json sends, with the buffer as anywidget hands it.
function wire(Ctor, values, shape, dtype) {
  const arr = Ctor.from(values);
  return { dtype, shape, buffer: new DataView(arr.buffer) };
}

describe("decodeArray", () => {
  it("returns the typed array and its shape", () => {
    const v = wire(Float32Array, [1, 2, 3, 4, 5, 6], [3, 2], "float32");
    const { data, shape } = decodeArray(v, { dtype: "float32", shape: [null, 2], name: "xy" });
    expect(data).toBeInstanceOf(Float32Array);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(shape).toEqual([3, 2]);
    expect(data.buffer).toBe(v.buffer.buffer); // no copy when aligned
  });
  it("decodes every dtype to its typed array", () => {
    const cases = [
      ["int8", Int8Array], ["uint8", Uint8Array], ["int16", Int16Array], ["uint16", Uint16Array],
      ["int32", Int32Array], ["uint32", Uint32Array], ["float32", Float32Array], ["float64", Float64Array],
    ];
    for (const [dtype, Ctor] of cases) {
      const { data } = decodeArray(wire(Ctor, [1, 2], [2], dtype), { dtype, shape: [null] });
      expect(data).toBeInstanceOf(Ctor);
      expect(Array.from(data)).toEqual([1, 2]);
    }
  });
  it("copies a buffer that starts at an unaligned offset", () => {
    const raw = new Uint8Array(9);
    raw.set(new Uint8Array(Float32Array.from([7, 8]).buffer), 1);
    const v = { dtype: "float32", shape: [2], buffer: new DataView(raw.buffer, 1, 8) };
    expect(Array.from(decodeArray(v, { dtype: "float32", shape: [2] }).data)).toEqual([7, 8]);
  });
  it("accepts empty arrays", () => {
    const v = { dtype: "uint8", shape: [0, 0], buffer: new DataView(new ArrayBuffer(0)) };
    const out = decodeArray(v, { dtype: "uint8", shape: [null, null] });
    expect(out.data.length).toBe(0);
    expect(out.shape).toEqual([0, 0]);
  });
  it("refuses another dtype, naming the trait and both dtypes", () => {
    const v = wire(Float64Array, [1, 2], [2], "float64");
    expect(() => decodeArray(v, { dtype: "float32", shape: [null], name: "loss" })).toThrow(
      /loss: expected float32 \[\*\], got dtype float64/,
    );
  });
  it("refuses a wrong number of axes or a wrong fixed axis", () => {
    const v = wire(Float32Array, [1, 2, 3, 4, 5, 6], [2, 3], "float32");
    expect(() => decodeArray(v, { dtype: "float32", shape: [null, 2], name: "xy" })).toThrow(/xy: expected shape \[\*, 2\], got \[2, 3\]/);
    expect(() => decodeArray(v, { dtype: "float32", shape: [null], name: "xy" })).toThrow(/expected shape \[\*\], got \[2, 3\]/);
  });
  it("refuses a buffer whose length disagrees with the shape", () => {
    const v = { dtype: "uint16", shape: [3], buffer: new DataView(Uint16Array.from([1, 2]).buffer) };
    expect(() => decodeArray(v, { dtype: "uint16", shape: [null], name: "label" })).toThrow(/needs 3 uint16 values, the buffer holds 2/);
    const odd = { dtype: "uint16", shape: [1], buffer: new DataView(new ArrayBuffer(3)) };
    expect(() => decodeArray(odd, { dtype: "uint16", shape: [null] })).toThrow(/whole number/);
  });
  it("refuses raw bytes and missing values (no dtype or shape travelled)", () => {
    expect(() => decodeArray(new DataView(new ArrayBuffer(8)), { dtype: "float32", shape: [null], name: "xy" })).toThrow(
      /xy: expected an array \{dtype, shape, buffer\}.*raw bytes/,
    );
    expect(() => decodeArray(null, { dtype: "float32", shape: [null], name: "xy" })).toThrow(/got null/);
    expect(() => decodeArray(undefined, { dtype: "float32", shape: [null] })).toThrow(/got undefined/);
  });
  it("refuses to expect a dtype it has no typed array for", () => {
    const v = wire(Float32Array, [1], [1], "float32");
    expect(() => decodeArray(v, { dtype: "int64", shape: [null] })).toThrow(/unknown dtype int64/);
  });
  it("getArray reads a model trait and names it in errors", () => {
    const model = { get: (k) => ({ pred: wire(Uint16Array, [3, 1], [2], "uint16") })[k] };
    expect(Array.from(getArray(model, "pred", "uint16", [2]).data)).toEqual([3, 1]);
    expect(() => getArray(model, "pred", "uint16", [3])).toThrow(/pred: expected shape \[3\], got \[2\]/);
  });
});
