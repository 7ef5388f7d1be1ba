// Deterministic weights and inputs, bit-identical to scripts/fixtures/models_imagenet/hashed_fill.py
// (the rule is documented there): fixtures of wide networks then hold only their outputs.
import { tensor, type Tensor } from "../../src/tensor/index.js";

function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key, "utf8")) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** (offset, amp) of a tensor by its key and shape; the same table as hashed_fill.py's `role`. */
function role(key: string, shape: readonly number[]): [number, number] {
  if (key === "input") return [0, 1];
  if (key.endsWith("running_var")) return [1, 0.5];
  if (key.endsWith("running_mean") || key.endsWith("bias")) return [0, 0.2];
  if (key.endsWith("weight") && shape.length === 1) return [1, 0.5];
  if (key.endsWith("weight")) {
    const fanIn = shape.reduce((a, b) => a * b, 1) / shape[0];
    return [0, Math.sqrt(6 / fanIn)];
  }
  throw new Error(`hashedTensor: no fill rule for "${key}"`);
}

/** The f32 tensor hashed_fill.py gives the key `key` (a state-dict key, or "input"). */
export function hashedTensor(key: string, shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const seed = fnv1a(key);
  const [offset, amp] = role(key, shape);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = mix((mix(i) + seed) >>> 0);
    data[i] = offset + amp * ((v + 0.5) / 2147483648 - 1);
  }
  return tensor(data, { shape });
}
