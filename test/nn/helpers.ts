// Shared checks for the nn layer tests: run a layer as the fixture script ran it in PyTorch
// (scripts/fixtures/nn/make_nn_fixtures.py) and compare output and gradients with its numbers.
import assert from "node:assert/strict";
import { fixture, get, assertClose } from "../helpers/engine.js";
import type { Module } from "../../src/nn/index.js";
import { tensor, type DType, type Tensor } from "../../src/tensor/index.js";

export type Fixture = Map<string, Tensor>;

/** test/fixtures/nn/<name>.safetensors. */
export function nnFixture(name: string): Fixture {
  return fixture(name, "nn");
}

/** The fixture script's fixed upstream gradient: ((7·i mod 11) − 5) / 4 over the flat index. */
export function upstream(shape: number[], dtype: DType = "f32"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Float64Array.from({ length: n }, (_, i) => (((i * 7) % 11) - 5) / 4);
  return tensor(v, { dtype: "f64", shape }).to(dtype);
}

/** The module state stored under `<key>.state.`, as a state dict to load. */
export function stateOf(f: Fixture, key: string): Map<string, Tensor> {
  const prefix = `${key}.state.`;
  const out = new Map<string, Tensor>();
  for (const [k, v] of f) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  assert.ok(out.size > 0, `fixture has no state under ${prefix}`);
  return out;
}

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

export interface RunOptions extends Tolerance {
  /** Feed the input (and the module's 4-D tensors) in channels-last memory format. */
  channelsLast?: boolean;
}

/**
 * Forward `x` through `m`, backpropagate upstream(y.shape), and compare y, the gradient w.r.t.
 * the input and w.r.t. every parameter with `<key>.y`, `<key>.gx` and `<key>.grad.<name>`.
 * Parameter gradients are cleared afterwards, so a module can be run again.
 */
export function checkRun(m: Module, x: Tensor, f: Fixture, key: string, o: RunOptions = {}): void {
  const { rtol = 1e-5, atol = 1e-5 } = o;
  const what = `${key}${o.channelsLast ? " (channels-last)" : ""}`;
  if (o.channelsLast) m.to({ memoryFormat: "channelsLast" });
  const xr = x.clone(o.channelsLast ? "channelsLast" : "contiguous").requiresGrad_();
  const y = m.forward(xr);
  assertClose(y, get(f, `${key}.y`), `${what}: output`, rtol, atol);
  y.backward(upstream(y.shape, y.dtype));
  assertClose(xr.grad!, get(f, `${key}.gx`), `${what}: gradient w.r.t. the input`, rtol, atol);
  for (const [name, p] of m.namedParameters()) {
    assertClose(
      p.grad!,
      get(f, `${key}.grad.${name}`),
      `${what}: gradient w.r.t. ${name}`,
      rtol,
      atol,
    );
  }
  m.zeroGrad();
}

/** checkRun for a function of several tensors: `<key>.g<i>` is the gradient of argument i. */
export function checkFn(
  fn: (...args: Tensor[]) => Tensor,
  args: Tensor[],
  f: Fixture,
  key: string,
  o: Tolerance = {},
): void {
  const { rtol = 1e-5, atol = 1e-6 } = o;
  const leaves = args.map((a) =>
    a.dtype === "f32" || a.dtype === "f64" ? a.clone().requiresGrad_() : a,
  );
  const y = fn(...leaves);
  assertClose(y, get(f, `${key}.y`), `${key}: output`, rtol, atol);
  y.backward(upstream(y.shape, y.dtype));
  leaves.forEach((a, i) => {
    if (a.requiresGrad)
      assertClose(
        a.grad!,
        get(f, `${key}.g${i}`),
        `${key}: gradient w.r.t. argument ${i}`,
        rtol,
        atol,
      );
  });
}
