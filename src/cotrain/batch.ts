// Turning the loader's ready buffers into engine tensors.
import { Tensor } from "../tensor/tensor.js";
import { native } from "../tensor/native.js";
import { dtypeCode } from "../tensor/dtype.js";
import type { MemoryFormatName } from "../tensor/dtype.js";
import type { Device } from "../tensor/tensor.js";

/** An N×C×H×W f32 tensor holding a copy of a loader view, in the model's memory format and device. */
export function viewTensor(
  view: Float32Array,
  shape: readonly number[],
  format: MemoryFormatName,
  device: Device | string,
): Tensor {
  const t = new Tensor(native.fromBytes(view, shape, dtypeCode("f32")));
  if (format === "contiguous" && device === "cpu") return t;
  const out = t.to({ device: device as Device, memoryFormat: format });
  t.dispose();
  return out;
}

/** Class indices as an i64 tensor. */
export function labelTensor(labels: Int32Array, device: Device | string): Tensor {
  const t = new Tensor(native.fromBytes(labels, [labels.length], dtypeCode("i32")));
  const out = t.to({ dtype: "i64", device: device as Device });
  t.dispose();
  return out;
}

/** Soft targets N×C as an f32 tensor. */
export function softTargetTensor(
  targets: Float32Array,
  n: number,
  device: Device | string,
): Tensor {
  const t = new Tensor(native.fromBytes(targets, [n, targets.length / n], dtypeCode("f32")));
  if (device === "cpu") return t;
  const out = t.to(device as Device);
  t.dispose();
  return out;
}
