// Gradients: finite differences, PyTorch-computed gradients of a small network, grad modes.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  randn,
  tensor,
  scope,
  noGrad,
  inferenceMode,
  enableGrad,
  isGradEnabled,
  backward,
  type Tensor,
} from "../../src/tensor/index.js";
import { F } from "../../src/nn/index.js";
import { assertCloseNumbers } from "../helpers/engine.js";

/** Central differences of a scalar function of x, in f64. */
function numericGrad(f: (x: Tensor) => Tensor, x: Tensor, h = 1e-6): number[] {
  const base = x.toArray();
  const out: number[] = [];
  for (let i = 0; i < base.length; i++) {
    const at = (d: number) =>
      scope(() => {
        const v = [...base];
        v[i] += d;
        return noGrad(() => f(tensor(v, { dtype: "f64", shape: x.shape })).item());
      });
    out.push((at(h) - at(-h)) / (2 * h));
  }
  return out;
}

const functions: [string, (x: Tensor) => Tensor][] = [
  [
    "log_softmax + nll",
    (x) => F.nllLoss(F.logSoftmax(x.reshape(3, 4), 1), tensor([1, 0, 3], { dtype: "i64" })),
  ],
  [
    "soft cross entropy with label smoothing",
    (x) =>
      F.crossEntropy(x.reshape(3, 4), tensor([2, 2, 0], { dtype: "i64" }), { labelSmoothing: 0.2 }),
  ],
  [
    "conv2d + relu6 + mean",
    (x) =>
      F.relu6(
        F.conv2d(
          x.reshape(1, 3, 2, 2),
          tensor(
            [...Array(12).keys()].map((i) => (i - 6) / 5),
            { dtype: "f64", shape: [1, 3, 2, 2] },
          ),
          null,
          { padding: 1 },
        ),
      )
        .pow(2)
        .mean(),
  ],
  ["entropy via xlogy", (x) => F.softmax(x, 0).xlogy(F.softmax(x, 0)).sum().neg()],
  [
    "batch norm (training) + silu",
    (x) =>
      F.silu(F.batchNorm(x.reshape(2, 3, 2, 1), null, null, { training: true }))
        .pow(3)
        .sum(),
  ],
];

for (const [name, f] of functions) {
  test(`gradient of ${name} equals finite differences`, () =>
    scope(() => {
      const x = randn([12], { dtype: "f64" }).requiresGrad_();
      f(x).backward();
      const analytic = x.grad!.toArray();
      assertCloseNumbers(analytic, numericGrad(f, x.detach()), name, 1e-5);
    }));
}

test("backward accumulates, and takes an explicit gradient", () =>
  scope(() => {
    const w = tensor([1, 2, 3]).requiresGrad_();
    w.mul(2).sum().backward();
    w.mul(2).sum().backward();
    assert.deepEqual(w.grad!.toArray(), [4, 4, 4]);
    w.grad = null;
    w.mul(w).backward(tensor([1, 0, 2]));
    assert.deepEqual(w.grad!.toArray(), [2, 0, 12]);
    const a = tensor([1]).requiresGrad_();
    backward([a.mul(3), a.mul(5)], [tensor([1]), tensor([2])]);
    assert.deepEqual(a.grad!.toArray(), [13]);
  }));

test("noGrad, enableGrad and inferenceMode scopes", () =>
  scope(() => {
    const w = randn([3]).requiresGrad_();
    assert.equal(noGrad(() => w.mul(2)).requiresGrad, false);
    assert.equal(noGrad(() => enableGrad(() => w.mul(2))).requiresGrad, true);
    assert.equal(isGradEnabled(), true);
    assert.equal(inferenceMode(() => w.mul(2)).requiresGrad, false);
    assert.throws(
      () =>
        noGrad(() => {
          throw new Error("boom");
        }),
      /boom/,
    );
    assert.equal(isGradEnabled(), true, "a throwing noGrad restores the mode");
    assert.equal(w.detach().requiresGrad, false);
    assert.equal(w.isLeaf, true);
    assert.match(w.mul(2).gradFn ?? "", /^MulBackward/);
  }));
