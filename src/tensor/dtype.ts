// Element types: the one table of what each dtype is called where (libtorch's code, the
// safetensors header name, the storage class torch.save pickles), its size in bytes and the
// TypedArray that holds its elements. The tensor engine and the io layer both read it.

export type DType = "f32" | "f64" | "f16" | "bf16" | "i64" | "i32" | "i16" | "i8" | "u8" | "bool";

type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | Int32ArrayConstructor
  | Int16ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor;

export interface DTypeInfo {
  /** c10::ScalarType value; stable across libtorch versions. */
  readonly code: number;
  /** Bytes per element. */
  readonly itemSize: number;
  readonly floating: boolean;
  /** The dtype's name in a safetensors header. */
  readonly safetensors: string;
  /** The typed storage class (torch.<name>) torch.save records for tensors of this dtype. */
  readonly torchStorage: string;
  /** The TypedArray that holds elements without conversion (f16/bf16: their raw bits). */
  readonly array: TypedArrayConstructor;
}

function row(
  code: number,
  itemSize: number,
  floating: boolean,
  safetensors: string,
  torchStorage: string,
  array: TypedArrayConstructor,
): DTypeInfo {
  return { code, itemSize, floating, safetensors, torchStorage, array };
}

// prettier-ignore
/** Every dtype (columns: row()'s parameters), widest first: the order io lists them in. */
export const DTYPE_INFO: Readonly<Record<DType, DTypeInfo>> = {
  f64:  row( 7, 8, true,  "F64",  "DoubleStorage",   Float64Array),
  i64:  row( 4, 8, false, "I64",  "LongStorage",     BigInt64Array),
  f32:  row( 6, 4, true,  "F32",  "FloatStorage",    Float32Array),
  i32:  row( 3, 4, false, "I32",  "IntStorage",      Int32Array),
  f16:  row( 5, 2, true,  "F16",  "HalfStorage",     Uint16Array),
  bf16: row(15, 2, true,  "BF16", "BFloat16Storage", Uint16Array),
  i16:  row( 2, 2, false, "I16",  "ShortStorage",    Int16Array),
  i8:   row( 1, 1, false, "I8",   "CharStorage",     Int8Array),
  u8:   row( 0, 1, false, "U8",   "ByteStorage",     Uint8Array),
  bool: row(11, 1, false, "BOOL", "BoolStorage",     Uint8Array),
};

export const DTYPES: readonly DType[] = Object.keys(DTYPE_INFO) as DType[];

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && Object.prototype.hasOwnProperty.call(DTYPE_INFO, x);
}

export const ITEM_SIZE: Readonly<Record<DType, number>> = Object.fromEntries(
  DTYPES.map((d) => [d, DTYPE_INFO[d].itemSize]),
) as Record<DType, number>;

/** Bytes per element of `dtype`. */
export function itemSize(dtype: DType): number {
  if (!isDType(dtype)) throw new TypeError(`unknown dtype ${JSON.stringify(dtype)}`);
  return DTYPE_INFO[dtype].itemSize;
}

const BY_CODE = new Map<number, DType>(DTYPES.map((d) => [DTYPE_INFO[d].code, d]));

export function dtypeCode(d: DType): number {
  if (!isDType(d)) {
    throw new TypeError(`unknown dtype "${String(d)}"; use one of ${DTYPES.join(", ")}`);
  }
  return DTYPE_INFO[d].code;
}

export function dtypeFromCode(code: number): DType {
  const d = BY_CODE.get(code);
  if (!d) throw new Error(`tensor has a dtype divco does not name (c10::ScalarType ${code})`);
  return d;
}

export function isFloating(d: DType): boolean {
  return DTYPE_INFO[d].floating;
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
  return new DTYPE_INFO[d].array(buf);
}

/**
 * Dtypes a TypedArray's elements naturally are, tried in order: a Uint8Array is u8 (not
 * bool), and a Uint16Array is left out because f16 and bf16 share it.
 */
const NATURAL: readonly DType[] = ["f32", "f64", "i64", "i32", "i16", "i8", "u8"];

/** The dtype a TypedArray's elements naturally are (Uint8Array → u8, Float32Array → f32, ...). */
export function dtypeOfArray(a: ArrayBufferView): DType {
  const d = NATURAL.find((n) => a instanceof DTYPE_INFO[n].array);
  if (d === undefined)
    throw new TypeError(`cannot infer a dtype from ${a.constructor.name}; pass { dtype }`);
  return d;
}

/** Memory formats (c10::MemoryFormat). */
export const MemoryFormat = { contiguous: 0, preserve: 1, channelsLast: 2 } as const;
export type MemoryFormatName = keyof typeof MemoryFormat;
