// Activations against PyTorch, forward and gradient, on a grid that puts the kinks (−3, 0, 3,
// 6) exactly on sample points so the gradient conventions there are checked too; plus the
// functional activations (tanh, gelu, leaky ReLU, softmax and log-softmax incl. a dtype), and
// the shape-only layers Identity and Flatten.
// Fixture: test/fixtures/nn/activation.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  F,
  Flatten,
  Hardsigmoid,
  Hardswish,
  Identity,
  ReLU,
  ReLU6,
  SiLU,
  Sigmoid,
  type Module,
} from "../../src/nn/index.js";
import { full, randn, scope, type Tensor } from "../../src/tensor/index.js";
import { get, assertClose } from "../helpers/engine.js";
import { checkFn, checkRun, nnFixture } from "./helpers.js";

const act = nnFixture("activation");
const x = get(act, "x");

const LAYERS: [string, () => Module][] = [
  ["relu", () => new ReLU()],
  ["relu6", () => new ReLU6()],
  ["silu", () => new SiLU()],
  ["sigmoid", () => new Sigmoid()],
  ["hardswish", () => new Hardswish()],
  ["hardsigmoid", () => new Hardsigmoid()],
];

for (const [name, make] of LAYERS) {
  for (const channelsLast of [false, true]) {
    test(`${name}: output and gradient equal PyTorch's${channelsLast ? " (channels-last)" : ""}`, () =>
      scope(() => checkRun(make(), x, act, name, { channelsLast, rtol: 1e-6, atol: 1e-7 })));
  }
}

const FUNCTIONS: [string, (t: Tensor) => Tensor][] = [
  ["tanh", (t) => F.tanh(t)],
  ["gelu", (t) => F.gelu(t)],
  ["leaky_relu", (t) => F.leakyRelu(t)],
  ["leaky_relu_02", (t) => F.leakyRelu(t, 0.2)],
  ["softmax1", (t) => F.softmax(t, 1)],
  ["log_softmax3", (t) => F.logSoftmax(t, 3)],
  ["softmax1_f64", (t) => F.softmax(t, 1, "f64")],
];

for (const [name, f] of FUNCTIONS) {
  test(`F.${name}: output and gradient equal PyTorch's`, () =>
    scope(() => checkFn(f, [x], act, name, { rtol: 1e-6, atol: 1e-7 })));
}

test("ReLU in place returns its input, rectified; PyTorch's values", () =>
  scope(() => {
    const t = x.mul(1);
    assert.equal(new ReLU(true).forward(t), t);
    assertClose(t, get(act, "relu.y"), "relu_", 0, 0);
  }));

test("Identity returns its input; Flatten flattens the dimensions PyTorch's does", () =>
  scope(() => {
    const t = randn([2, 3, 4, 5]);
    assert.equal(new Identity().forward(t), t);
    // nn.Flatten(start_dim, end_dim) on a 2×3×4×5 input: (1, −1) → 2×60, (0, 1) → 6×4×5, (2, 3) → 2×3×20.
    assert.deepEqual(new Flatten().forward(t).shape, [2, 60]);
    assert.deepEqual(new Flatten(0, 1).forward(t).shape, [6, 4, 5]);
    assert.deepEqual(new Flatten(2, 3).forward(t).shape, [2, 3, 20]);
    assert.deepEqual(new Flatten(-2).forward(t).shape, [2, 3, 20]);
    const flat = new Flatten().forward(t.contiguous("channelsLast"));
    assertClose(
      flat,
      t.reshape(2, 60),
      "Flatten of a channels-last input keeps logical order",
      0,
      0,
    );
    const leaf = t.clone().requiresGrad_();
    new Flatten().forward(leaf).backward(full([2, 60], 2));
    assertClose(leaf.grad!, full([2, 3, 4, 5], 2), "Flatten passes gradients through", 0, 0);
  }));
