// Element types. Codes are c10::ScalarType values, which are stable across libtorch versions.

export type DType = "f32" | "f64" | "f16" | "bf16" | "i64" | "i32" | "i16" | "i8" | "u8" | "bool";

const CODES: Record<DType, number> = {
  u8: 0,
  i8: 1,
  i16: 2,
  i32: 3,
  i64: 4,
  f16: 5,
  f32: 6,
  f64: 7,
  bool: 11,
  bf16: 15,
};

const NAMES = new Map<number, DType>(Object.entries(CODES).map(([k, v]) => [v, k as DType]));

export const ITEM_SIZE: Record<DType, number> = {
  u8: 1, i8: 1, i16: 2, i32: 4, i64: 8, f16: 2, f32: 4, f64: 8, bool: 1, bf16: 2,
};

export function dtypeCode(d: DType): number {
  const c = CODES[d];
  if (c === undefined) {
    throw new TypeError(`unknown dtype "${String(d)}"; use one of ${Object.keys(CODES).join(", ")}`);
  }
  return c;
}

export function dtypeFromCode(code: number): DType {
  const d = NAMES.get(code);
  if (!d) throw new Error(`tensor has a dtype divco does not name (c10::ScalarType ${code})`);
  return d;
}

export function isFloating(d: DType): boolean {
  return d === "f32" || d === "f64" || d === "f16" || d === "bf16";
}

/** The TypedArray that holds elements of a dtype without conversion, where JavaScript has one. */
export type TypedArrayFor<D extends DType> = D extends "f32"
  ? Float32Array
  : D extends "f64"
    ? Float64Array
    : D extends "i64"
      ? BigInt64Array
      : D extends "i32"
        ? Int32Array
        : D extends "i16"
          ? Int16Array
          : D extends "i8"
            ? Int8Array
            : D extends "u8" | "bool"
              ? Uint8Array
              : Uint16Array; // f16, bf16: raw bits

export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array;

export function typedArrayOf(d: DType, buf: ArrayBuffer): AnyTypedArray {
  switch (d) {
    case "f32": return new Float32Array(buf);
    case "f64": return new Float64Array(buf);
    case "i64": return new BigInt64Array(buf);
    case "i32": return new Int32Array(buf);
    case "i16": return new Int16Array(buf);
    case "i8": return new Int8Array(buf);
    case "u8":
    case "bool": return new Uint8Array(buf);
    case "f16":
    case "bf16": return new Uint16Array(buf);
  }
}

/** The dtype a TypedArray's elements naturally are (Uint8Array → u8, Float32Array → f32, ...). */
export function dtypeOfArray(a: ArrayBufferView): DType {
  if (a instanceof Float32Array) return "f32";
  if (a instanceof Float64Array) return "f64";
  if (a instanceof BigInt64Array) return "i64";
  if (a instanceof Int32Array) return "i32";
  if (a instanceof Int16Array) return "i16";
  if (a instanceof Int8Array) return "i8";
  if (a instanceof Uint8Array) return "u8";
  throw new TypeError(`cannot infer a dtype from ${a.constructor.name}; pass { dtype }`);
}

/** Memory formats (c10::MemoryFormat). */
export const MemoryFormat = { contiguous: 0, preserve: 1, channelsLast: 2 } as const;
export type MemoryFormatName = keyof typeof MemoryFormat;
