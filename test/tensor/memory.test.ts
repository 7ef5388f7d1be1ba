// Deterministic memory: scopes free what they should and keep what they should, and a long
// training loop keeps resident memory flat.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  randn,
  randint,
  scope,
  zeros,
  heapStats,
  native,
  type Tensor,
} from "../../src/tensor/index.js";
import {
  Conv2d,
  BatchNorm2d,
  Linear,
  Sequential,
  ReLU,
  Flatten,
  AdaptiveAvgPool2d,
  F,
} from "../../src/nn/index.js";
import { SGD } from "../../src/optim/index.js";

test("scope disposes what it made, except what it returns and what is kept", () => {
  let inner!: Tensor;
  let kept!: Tensor;
  const out = scope(() => {
    inner = zeros([3]);
    kept = zeros([3]).keep();
    return { result: inner.add(1), list: [inner.mul(2)] };
  });
  assert.ok(inner.disposed);
  assert.ok(!kept.disposed);
  assert.ok(!out.result.disposed && !out.list[0].disposed);
  const nested = scope(() => scope(() => zeros([2])));
  assert.ok(!nested.disposed, "returned through two scopes");
  for (const t of [kept, out.result, out.list[0], nested]) t.dispose();
  let leaked!: Tensor;
  assert.throws(
    () =>
      scope(() => {
        leaked = zeros([1]);
        throw new Error("x");
      }),
    /x/,
  );
  assert.ok(leaked.disposed, "a throwing scope still frees");
  assert.throws(() => scope(() => Promise.resolve(1) as never), /Promise/);
});

test("`using` frees a tensor at the end of its block", () => {
  let t!: Tensor;
  {
    using a = zeros([4]);
    t = a;
    assert.ok(!t.disposed);
  }
  assert.ok(t.disposed);
});

test("10,000 training steps keep resident memory flat", () => {
  const model = new Sequential(
    new Conv2d(3, 8, 3, { padding: 1 }),
    new BatchNorm2d(8),
    new ReLU(true),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(8, 10),
  );
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = randn([8, 3, 8, 8]).keep();
  const y = randint(0, 10, [8]).keep();
  const step = () =>
    scope(() => {
      opt.zeroGrad();
      F.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
  for (let i = 0; i < 2000; i++) step(); // warm: allocator pools, V8 code and heap, optimiser state
  const rss0 = process.memoryUsage().rss;
  const heap0 = heapStats().inUse;
  const live0 = native.liveTensors();
  for (let i = 0; i < 10_000; i++) step();
  const grewRss = process.memoryUsage().rss - rss0;
  const grewHeap = heapStats().inUse - heap0;
  // Bounds: a step allocates ~30 tensors (the largest 16 KiB). Leaking one activation per step
  // would grow the native heap by 160 MiB over 10,000 steps, and leaking even 100 bytes of
  // bookkeeping per step by 1 MiB — so the native heap may grow by less than 1 MiB, and no
  // handle may stay live. Resident memory also holds V8's heap, which settles with some
  // noise: it may grow by less than 32 MiB.
  assert.equal(native.liveTensors(), live0, "live tensor handles after 10,000 steps");
  assert.ok(
    grewHeap < 2 ** 20,
    `native heap in use grew ${(grewHeap / 2 ** 20).toFixed(2)} MiB over 10,000 steps`,
  );
  assert.ok(
    grewRss < 32 * 2 ** 20,
    `resident memory grew ${(grewRss / 2 ** 20).toFixed(1)} MiB over 10,000 steps`,
  );
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
});
