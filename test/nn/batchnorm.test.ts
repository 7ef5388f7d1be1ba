// BatchNorm2d against PyTorch: three training steps (running mean/var and num_batches_tracked
// after them), the last step's output and gradients, then eval on another batch — for the
// default settings, EfficientNet's (eps 1e-3, momentum 0.01), another momentum/eps pair, the
// cumulative average (momentum null), no affine parameters and no running statistics; in
// contiguous and channels-last memory format.
// Fixture: test/fixtures/nn/batchnorm.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchNorm2d, type BatchNormOptions } from "../../src/nn/index.js";
import { scope } from "../../src/tensor/index.js";
import { get, assertClose } from "../helpers/engine.js";
import { checkRun, nnFixture, stateOf } from "./helpers.js";

const bn = nnFixture("batchnorm");
const STEPS = 3;

// make_nn_fixtures.py's BN_CASES in divco's option names.
const CASES: [string, BatchNormOptions][] = [
  ["default", {}],
  ["effnet", { eps: 1e-3, momentum: 0.01 }],
  ["m03_eps1e-4", { eps: 1e-4, momentum: 0.3 }],
  ["cumulative", { momentum: null }],
  ["noaffine", { affine: false }],
  ["notrack", { trackRunningStats: false }],
];

for (const [name, o] of CASES) {
  for (const channelsLast of [false, true]) {
    test(`BatchNorm2d ${name}: training steps, running statistics and eval equal PyTorch's${channelsLast ? " (channels-last)" : ""}`, () =>
      scope(() => {
        const m = new BatchNorm2d(3, o);
        m.loadStateDict(stateOf(bn, name));
        m.train();
        const fmt = channelsLast ? "channelsLast" : "contiguous";
        for (let s = 0; s < STEPS - 1; s++)
          scope(() => m.forward(get(bn, `x${s}`).contiguous(fmt)));
        checkRun(m, get(bn, `x${STEPS - 1}`), bn, `${name}.train`, { channelsLast });

        const buffers = [...m.namedBuffers()];
        const expected = [...bn.keys()].filter((k) => k.startsWith(`${name}.after.`));
        assert.deepEqual(
          buffers.map(([k]) => `${name}.after.${k}`).sort(),
          expected.sort(),
          "the same buffers as PyTorch's",
        );
        for (const [k, b] of buffers) {
          const tol = k === "num_batches_tracked" ? 0 : 1e-6;
          assertClose(
            b,
            get(bn, `${name}.after.${k}`),
            `${name}: ${k} after ${STEPS} steps`,
            tol,
            tol,
          );
        }
        if (m.numBatchesTracked) assert.equal(m.numBatchesTracked.item(), STEPS);

        m.eval();
        checkRun(m, get(bn, "x_eval"), bn, `${name}.eval`, { channelsLast });
        m.dispose();
      }));
  }
}

test("BatchNorm2d refuses an input that is not N×C×H×W, saying what it got", () =>
  scope(() => {
    const m = new BatchNorm2d(3);
    assert.throws(
      () => m.forward(get(bn, "x_eval").flatten(2)),
      /BatchNorm2d: expected N×C×H×W input/,
    );
    m.dispose();
  }));
