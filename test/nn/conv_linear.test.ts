// Conv2d and Linear against PyTorch: default initialisation under the same seed, forward and
// gradients for every option (stride, padding, dilation, groups, bias, rectangular kernels),
// and the same numbers from channels-last inputs and weights.
// Fixtures: test/fixtures/nn/{conv,linear}.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import { Conv2d, Linear, type Conv2dOptions } from "../../src/nn/index.js";
import { manualSeed, scope } from "../../src/tensor/index.js";
import { get, assertClose } from "../helpers/engine.js";
import { checkRun, nnFixture, stateOf } from "./helpers.js";

const conv = nnFixture("conv");
const linear = nnFixture("linear");

// The cases of make_nn_fixtures.py's CONV_CASES: (name, seed, in, out, kernel, options).
const CONV_CASES: [string, number, number, number, number | [number, number], Conv2dOptions][] = [
  ["basic", 101, 4, 3, 3, {}],
  ["s2_p1_nobias", 102, 4, 3, 3, { stride: 2, padding: 1, bias: false }],
  ["dil2_p2", 103, 4, 3, 3, { padding: 2, dilation: 2 }],
  ["groups2", 104, 4, 4, 3, { padding: 1, groups: 2 }],
  ["depthwise", 105, 4, 4, 3, { padding: 1, groups: 4, bias: false }],
  ["rect", 106, 4, 2, [3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2] }],
  ["pointwise", 107, 4, 2, 1, {}],
];

for (const [name, seed, cin, cout, k, o] of CONV_CASES) {
  test(`Conv2d ${name}: default initialisation equals PyTorch's under the same seed`, () =>
    scope(() => {
      manualSeed(seed);
      const m = new Conv2d(cin, cout, k, o);
      for (const [p, t] of stateOf(conv, name)) {
        const own = p === "weight" ? m.weight : m.bias!;
        assertClose(own, t, `${name}.${p}`, 0, 0);
      }
      m.dispose();
    }));

  for (const channelsLast of [false, true]) {
    test(`Conv2d ${name}: output and gradients equal PyTorch's${channelsLast ? " (channels-last)" : ""}`, () =>
      scope(() => {
        const m = new Conv2d(cin, cout, k, o);
        m.loadStateDict(stateOf(conv, name));
        checkRun(m, get(conv, "x"), conv, name, { channelsLast });
        m.dispose();
      }));
  }
}

const LINEAR_CASES: [string, number, { bias?: boolean }, string][] = [
  ["basic", 201, {}, "x2"],
  ["nobias", 202, { bias: false }, "x2"],
  ["batched3d", 203, {}, "x3"],
];

for (const [name, seed, o, input] of LINEAR_CASES) {
  test(`Linear ${name}: default initialisation, output and gradients equal PyTorch's`, () =>
    scope(() => {
      manualSeed(seed);
      const m = new Linear(5, 3, o);
      const state = stateOf(linear, name);
      assertClose(m.weight, state.get("weight")!, `${name}.weight`, 0, 0);
      if (m.bias) assertClose(m.bias, state.get("bias")!, `${name}.bias`, 0, 0);
      checkRun(m, get(linear, input), linear, name);
      m.dispose();
    }));
}
