// Test helpers: reference fixtures written by PyTorch (scripts/fixtures/engine) and closeness checks.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { loadTensors } from "../../src/io/tensors.js";
import type { Tensor } from "../../src/tensor/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Tensors of test/fixtures/<dir>/<name>.safetensors; kept (scopes leave them alone). */
export function fixture(name: string, dir = "engine"): Map<string, Tensor> {
  const { tensors } = loadTensors(join(ROOT, "test", "fixtures", dir, `${name}.safetensors`));
  for (const t of tensors.values()) t.keep();
  return tensors;
}

export function get(m: Map<string, Tensor>, k: string): Tensor {
  const t = m.get(k);
  if (!t) throw new Error(`fixture has no tensor "${k}"`);
  return t;
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with a message naming the worst element. */
export function assertClose(
  actual: Tensor,
  expected: Tensor,
  what: string,
  rtol = 1e-5,
  atol = 1e-6,
): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.toArray();
  const b = expected.toArray();
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  assert.ok(
    worst < 0,
    `${what}: element ${worst} is ${a[worst]}, expected ${b[worst]} (rtol ${rtol}, atol ${atol})`,
  );
}

export function assertCloseNumbers(
  actual: number[],
  expected: number[],
  what: string,
  tol = 1e-6,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((v, i) =>
    assert.ok(
      Math.abs(v - expected[i]) <= tol * (1 + Math.abs(expected[i])),
      `${what}[${i}]: ${v} vs ${expected[i]}`,
    ),
  );
}
