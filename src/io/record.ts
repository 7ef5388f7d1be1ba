// The common currency of the serialization layer: a tensor as plain bytes.
//
// Nothing here knows about the tensor engine. Readers (safetensors, .pth) produce
// TensorRecords and writers consume them; the engine converts records to and from
// its own tensors. Data is always little-endian and C-contiguous, so a record can be
// written to disk or handed to native code without any reshuffling. Only the dtype table
// (src/tensor/dtype.ts, plain data) comes from the tensor layer.

import { type DType, DTYPES, isDType, itemSize } from "../tensor/dtype.js";

// The dtype table is the tensor layer's (names, item sizes); io re-exports what it uses.
export { type DType, DTYPES, isDType, itemSize };

export interface TensorRecord {
  dtype: DType;
  /** Sizes per dimension; [] is a scalar (one element). */
  shape: number[];
  /** Little-endian, C-contiguous raw bytes; byteLength === numel(shape) * itemSize(dtype). */
  data: Uint8Array;
}

/** Number of elements of a tensor with this shape (1 for a scalar, 0 if any dim is 0). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Why `shape` is not a valid tensor shape, or null if it is. Dimensions must be
 * non-negative safe integers and the element count must stay a safe integer, so byte
 * offsets computed from it are exact in a JS number.
 */
export function shapeProblem(shape: unknown): string | null {
  if (!Array.isArray(shape)) return `shape must be an array, got ${JSON.stringify(shape)}`;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      return `shape ${JSON.stringify(shape)} has an invalid dimension ${JSON.stringify(d)}`;
    }
    n *= d;
    if (!Number.isSafeInteger(n)) return `shape ${JSON.stringify(shape)} has too many elements`;
  }
  return null;
}

/**
 * Throws a TypeError if `rec` is not a well-formed TensorRecord. `what` names the
 * tensor (and file) in the message so the user can find the culprit.
 */
export function validateRecord(rec: TensorRecord, what = "tensor"): void {
  if (rec === null || typeof rec !== "object") throw new TypeError(`${what}: not a TensorRecord`);
  if (!isDType(rec.dtype))
    throw new TypeError(`${what}: unknown dtype ${JSON.stringify(rec.dtype)}`);
  const bad = shapeProblem(rec.shape);
  if (bad !== null) throw new TypeError(`${what}: ${bad}`);
  if (!(rec.data instanceof Uint8Array)) throw new TypeError(`${what}: data must be a Uint8Array`);
  const want = numel(rec.shape) * itemSize(rec.dtype);
  if (rec.data.byteLength !== want) {
    throw new TypeError(
      `${what}: ${rec.dtype}${JSON.stringify(rec.shape)} needs ${want} bytes, data has ${rec.data.byteLength}`,
    );
  }
}

/** Convenience constructor that validates. */
export function makeRecord(dtype: DType, shape: number[], data: Uint8Array): TensorRecord {
  const rec = { dtype, shape, data };
  validateRecord(rec);
  return rec;
}
