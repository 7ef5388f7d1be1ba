// Dropout and Dropout2d: in eval mode the identity (the input itself, as PyTorch returns it);
// in training the same masks, scaling by 1/(1−p) and gradients as PyTorch for the same seed —
// divco's generators are libtorch's and reproduce PyTorch's draws (see the engine's
// random.safetensors fixture), so the check is exact rather than statistical.
// Fixture: test/fixtures/nn/dropout.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dropout, Dropout2d, type Module } from "../../src/nn/index.js";
import { manualSeed, scope } from "../../src/tensor/index.js";
import { get } from "../helpers/engine.js";
import { checkRun, nnFixture } from "./helpers.js";

const drop = nnFixture("dropout");

// make_nn_fixtures.py's DROPOUT_CASES: (name, seed, layer, input).
const CASES: [string, number, () => Module, string][] = [
  ["dropout_p05", 401, () => new Dropout(0.5), "x2"],
  ["dropout_p02", 402, () => new Dropout(0.2), "x2"],
  ["dropout_p1", 403, () => new Dropout(1), "x2"],
  ["dropout2d_p05", 404, () => new Dropout2d(0.5), "x4"],
  ["dropout2d_p025", 405, () => new Dropout2d(0.25), "x4"],
];

for (const [name, seed, make, input] of CASES) {
  const layouts = input === "x4" ? [false, true] : [false];
  for (const channelsLast of layouts) {
    test(`${name}: training masks, scale and gradient equal PyTorch's for the same seed${channelsLast ? " (channels-last)" : ""}`, () =>
      scope(() => {
        const m = make().train();
        manualSeed(seed);
        checkRun(m, get(drop, input), drop, name, { channelsLast, rtol: 0, atol: 0 });
      }));
  }
}

test("the fixture's masks are real: some kept, some dropped, the kept ones scaled by 1/(1−p)", () =>
  scope(() => {
    for (const [name, p, input] of [
      ["dropout_p05", 0.5, "x2"],
      ["dropout2d_p025", 0.25, "x4"],
    ] as const) {
      const y = get(drop, `${name}.y`).toArray();
      const x = get(drop, input).toArray();
      const kept = y.filter((v) => v !== 0).length;
      assert.ok(kept > 0 && kept < y.length, `${name}: ${kept} of ${y.length} kept`);
      y.forEach((v, i) =>
        assert.ok(v === 0 || Math.abs(v - x[i] / (1 - p)) <= 1e-6 * Math.abs(v), `${name}[${i}]`),
      );
    }
  }));

test("eval mode, and p = 0 in training, return the input itself", () =>
  scope(() => {
    const x = get(drop, "x4");
    for (const m of [new Dropout(0.5), new Dropout2d(0.5)]) {
      assert.equal(m.eval().forward(x), x, `${m.constructor.name} eval`);
      assert.equal(m.train().forward(x) === x, false, `${m.constructor.name} train`);
    }
    assert.equal(new Dropout(0).train().forward(x), x);
    assert.equal(new Dropout2d(0).train().forward(x), x);
  }));

test("a probability outside [0, 1] is refused, naming the layer", () => {
  assert.throws(() => new Dropout(1.5), /Dropout: p must be in \[0, 1\], got 1.5/);
  assert.throws(() => new Dropout2d(-0.1), /Dropout2d: p must be in \[0, 1\], got -0.1/);
});
