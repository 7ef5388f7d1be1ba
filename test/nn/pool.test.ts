// Pooling layers against PyTorch, forward and gradient: MaxPool2d and AvgPool2d with stride,
// padding, dilation, ceil_mode, count_include_pad and rectangular windows; F.avgPool2d's
// divisor override; AdaptiveAvgPool2d to 1, to sizes that do not divide the input and to a
// size larger than it; in contiguous and channels-last memory format.
// Fixture: test/fixtures/nn/pool.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import { AdaptiveAvgPool2d, AvgPool2d, F, MaxPool2d, type Module } from "../../src/nn/index.js";
import { scope } from "../../src/tensor/index.js";
import { get } from "../helpers/engine.js";
import { checkFn, checkRun, nnFixture } from "./helpers.js";

const pool = nnFixture("pool");
const x = get(pool, "x");

// make_nn_fixtures.py's POOL_CASES.
const CASES: [string, () => Module][] = [
  ["max_k2", () => new MaxPool2d(2)],
  ["max_k3_s2_ceil", () => new MaxPool2d(3, { stride: 2, ceilMode: true })],
  ["max_k3_s2_p1", () => new MaxPool2d(3, { stride: 2, padding: 1 })],
  ["max_k3_s1_p1_dil2", () => new MaxPool2d(3, { stride: 1, padding: 1, dilation: 2 })],
  [
    "max_rect_ceil",
    () => new MaxPool2d([3, 2], { stride: [2, 1], padding: [1, 0], ceilMode: true }),
  ],
  ["avg_k2", () => new AvgPool2d(2)],
  ["avg_k3_s2_p1", () => new AvgPool2d(3, { stride: 2, padding: 1 })],
  ["avg_k3_s2_p1_noinc", () => new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false })],
  ["avg_k3_s2_ceil", () => new AvgPool2d(3, { stride: 2, ceilMode: true })],
  [
    "avg_k3_s2_p1_ceil_noinc",
    () => new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
  ],
  ["avg_rect", () => new AvgPool2d([3, 2], { stride: [2, 1], padding: [1, 1] })],
  ["adaptive_1", () => new AdaptiveAvgPool2d(1)],
  ["adaptive_3", () => new AdaptiveAvgPool2d(3)],
  ["adaptive_2x4", () => new AdaptiveAvgPool2d([2, 4])],
  ["adaptive_5", () => new AdaptiveAvgPool2d(5)],
  ["adaptive_9x2", () => new AdaptiveAvgPool2d([9, 2])],
];

for (const [name, make] of CASES) {
  for (const channelsLast of [false, true]) {
    test(`${name}: output and gradient equal PyTorch's${channelsLast ? " (channels-last)" : ""}`, () =>
      scope(() => checkRun(make(), x, pool, name, { channelsLast, rtol: 1e-6, atol: 1e-6 })));
  }
}

test("F.avgPool2d with a divisor override equals PyTorch's", () =>
  scope(() =>
    checkFn(
      (t) => F.avgPool2d(t, 3, { stride: 2, padding: 1, divisorOverride: 5 }),
      [x],
      pool,
      "avg_divisor5",
    ),
  ));
