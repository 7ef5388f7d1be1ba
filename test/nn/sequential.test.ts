// Sequential against nn.Sequential: the same children built under the same seed have PyTorch's
// state-dict keys and initial values; a training step (output, every gradient, running
// statistics) and an eval forward equal PyTorch's, in contiguous and channels-last format.
// Fixture: test/fixtures/nn/sequential.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  Hardswish,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from "../../src/nn/index.js";
import { manualSeed, scope } from "../../src/tensor/index.js";
import { get, assertClose } from "../helpers/engine.js";
import { checkRun, nnFixture, stateOf } from "./helpers.js";

const seq = nnFixture("sequential");

/** make_nn_fixtures.py's sequential_net, layer for layer. */
function net(): Sequential {
  return new Sequential(
    new Conv2d(3, 4, 3, { padding: 1, bias: false }),
    new BatchNorm2d(4),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(4, 4, 3, { padding: 1, groups: 2 }),
    new BatchNorm2d(4, { eps: 1e-3, momentum: 0.01 }),
    new Hardswish(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(4, 3),
  );
}

test("Sequential built under PyTorch's seed has its state-dict keys and initial values", () =>
  scope(() => {
    manualSeed(601);
    const m = net();
    const want = stateOf(seq, "net");
    const own = m.stateDict();
    assert.deepEqual([...own.keys()].sort(), [...want.keys()].sort());
    for (const [k, t] of own) assertClose(t, want.get(k)!, `initial ${k}`, 0, 0);
    m.dispose();
  }));

for (const channelsLast of [false, true]) {
  test(`Sequential training step and eval forward equal PyTorch's${channelsLast ? " (channels-last)" : ""}`, () =>
    scope(() => {
      const m = net();
      m.loadStateDict(stateOf(seq, "net"));
      m.train();
      checkRun(m, get(seq, "x"), seq, "net.train", { channelsLast });
      for (const [k, b] of m.namedBuffers())
        assertClose(b, get(seq, `net.after.${k}`), `${k} after the step`, 1e-6, 1e-6);
      m.eval();
      checkRun(m, get(seq, "x_eval"), seq, "net.eval", { channelsLast });
      m.dispose();
    }));
}
