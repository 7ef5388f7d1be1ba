// The bridge between serialized records and engine tensors: save and load Maps of tensors as
// safetensors, and convert a PyTorch checkpoint's state dict into tensors.
import { Tensor } from "../tensor/tensor.js";
import { native } from "../tensor/native.js";
import { dtypeCode } from "../tensor/dtype.js";
import type { TensorRecord } from "./record.js";
import { readSafetensors, saveSafetensorsSync, type Metadata } from "./safetensors.js";

/** A CPU tensor holding a copy of the record's bytes. */
export function recordToTensor(r: TensorRecord): Tensor {
  return new Tensor(native.fromBytes(r.data, r.shape, dtypeCode(r.dtype)));
}

/** The tensor's bytes (copied to CPU, C-contiguous) as a record. */
export function tensorToRecord(t: Tensor): TensorRecord {
  return { dtype: t.dtype, shape: t.shape, data: new Uint8Array(native.toBytes(t.handle)) };
}

/** Writes tensors to a safetensors file atomically (the old file survives any failure). */
export function saveTensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Metadata,
): void {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const records = new Map<string, TensorRecord>(entries.map(([k, t]) => [k, tensorToRecord(t)]));
  saveSafetensorsSync(path, records, metadata);
}

/** Reads every tensor of a safetensors file (CPU tensors, owned by the caller). */
export function loadTensors(path: string | Uint8Array): {
  tensors: Map<string, Tensor>;
  metadata: Metadata;
} {
  const { tensors, metadata } = readSafetensors(path);
  const out = new Map<string, Tensor>();
  for (const [k, r] of tensors) out.set(k, recordToTensor(r));
  return { tensors: out, metadata: metadata ?? {} };
}
