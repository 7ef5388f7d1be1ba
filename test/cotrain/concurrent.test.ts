// Concurrent members (src/cotrain/concurrent.ts): a step with the members' forward/backward on
// worker threads must equal the sequential step bit for bit when every kernel runs on one
// thread, leave no tensors behind, and refuse architectures whose forward draws random numbers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "../../src/models/registry.js";
import "../../src/models/index.js";
import { manualSeed, setNumThreads, scope, randn, zeros, native } from "../../src/tensor/index.js";

const liveTensors = () => native.liveTensors();
import { SGD } from "../../src/optim/index.js";
import { coTrainStep, coTrainStepConcurrent, type StepOptions } from "../../src/cotrain/step.js";
import { ConcurrentMembers, drawsRandomInForward } from "../../src/cotrain/concurrent.js";
import type { Batch } from "../../src/data/loader.js";
import type { Members } from "../../src/models/members.js";

// One intra-op thread everywhere: the sequential and concurrent paths then run identical kernels.
setNumThreads(1);

const OPTS: StepOptions = {
  numClasses: 10,
  labelSmoothing: 0,
  cotLoss: "js_divergence",
  cotWeight: 0.5,
  cotWarmupEpochs: 0,
  gradAccumulation: 1,
  memoryFormat: "contiguous",
  device: "cpu",
};

function batch(S: number, n: number, seed: number, index = 0): Batch {
  manualSeed(seed);
  const views = scope(() =>
    Array.from(
      { length: S },
      () => new Float32Array(randn([n, 3, 32, 32]).toTypedArray() as Float32Array),
    ),
  );
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10);
  return {
    views,
    labels,
    index,
    epoch: 0,
    shape: [n, 3, 32, 32],
    mixup: { lambda: 0.7, perm: Int32Array.from({ length: n }, (_, i) => n - 1 - i) },
  };
}

function model(arch: string, S: number): Members {
  manualSeed(11);
  return create(arch, { split: S, dataset: "cifar10" });
}

function flat(m: Members): Map<string, number[]> {
  return new Map([...m.stateDict()].map(([k, t]) => [k, t.toArray()]));
}

test("a concurrent step equals the sequential step bit for bit (S=2 and S=4 on 2 workers)", async () => {
  for (const [S, workers] of [
    [2, 2],
    [4, 2],
  ] as const) {
    const a = model("resnet29", S);
    const b = model("resnet29", S);
    const optA = new SGD([{ params: a.parameters() }], { lr: 0.1, momentum: 0.9, nesterov: true });
    const optB = new SGD([{ params: b.parameters() }], { lr: 0.1, momentum: 0.9, nesterov: true });
    const pool = await ConcurrentMembers.start(b, { threads: workers, workers });
    try {
      assert.equal(pool.assignment.length, workers);
      for (let step = 0; step < 2; step++) {
        const x = batch(S, 8, 5 + step, step);
        const ra = scope(() => coTrainStep(a, optA, x, 1, false, OPTS));
        const rb = await coTrainStepConcurrent(pool, optB, x, 1, false, OPTS);
        assert.deepEqual(rb, ra, `S=${S} step ${step}: losses and counts`);
      }
    } finally {
      await pool.close();
    }
    const fa = flat(a);
    for (const [k, v] of flat(b)) assert.deepEqual(v, fa.get(k), `S=${S}: ${k} after two steps`);
    a.dispose();
    b.dispose();
    optA.dispose();
    optB.dispose();
  }
});

test("concurrent members leave no tensors behind and keep the main thread's random sequence", async () => {
  const m = model("resnet29", 2);
  const opt = new SGD([{ params: m.parameters() }], { lr: 0.1 });
  const x = batch(2, 4, 1);
  scope(() => coTrainStep(m, opt, x, 0, false, OPTS)); // momentum-free SGD: no optimiser state grows
  const live = liveTensors();
  manualSeed(42);
  const pool = await ConcurrentMembers.start(m, { threads: 2 });
  const afterStart = scope(() => randn([4]).toArray());
  manualSeed(42);
  assert.deepEqual(
    afterStart,
    scope(() => randn([4]).toArray()),
    "building the workers' copies drew nothing from the main generator",
  );
  await coTrainStepConcurrent(pool, opt, x, 0, false, OPTS);
  await pool.close();
  assert.equal(liveTensors(), live, "every handle made for the concurrent step was released");
  assert.ok(
    scope(() => zeros([1]).add(m.parameters()[0].sum()).isfinite().all().item()),
    "the model is intact after close",
  );
  await assert.rejects(pool.forward([], true), /already closed/);
});

test("an architecture that draws random numbers in its forward is refused", async () => {
  const opts = (split: number) => ({
    split,
    dataset: "cifar10" as const,
    numClasses: 10,
    crop: 32,
    extra: {},
  });
  manualSeed(9);
  const expected = scope(() => randn([3]).toArray());
  manualSeed(9);
  assert.equal(drawsRandomInForward("shake_resnet26_2x32d", opts(2)), true);
  assert.equal(drawsRandomInForward("resnet29", opts(2)), false);
  assert.deepEqual(
    scope(() => randn([3]).toArray()),
    expected,
    "the probe leaves the default generator as it was",
  );
  // The step itself checks too (a member built outside the registry's defaults, say).
  const m = model("shake_resnet26_2x32d", 2);
  const opt = new SGD([{ params: m.parameters() }], { lr: 0.1 });
  const pool = await ConcurrentMembers.start(m, { threads: 2 });
  try {
    await assert.rejects(
      coTrainStepConcurrent(pool, opt, batch(2, 2, 3), 0, false, OPTS),
      /draws random numbers in its forward pass.*without concurrent members/,
    );
  } finally {
    await pool.close();
  }
});
