// The c10d surface on two processes over 127.0.0.1 (Gloo): every collective's result, sub-groups,
// the differentiable all_gather's gradient, SyncBN against one process's BatchNorm2d on the whole
// batch (output, input and parameter gradients, running statistics; shards of unequal size), the
// reducer's averaged gradients, and that a rank
// waiting in a collective keeps its event loop running (collectives run off the JS thread).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { allSucceed, freePort, killAll, nodeProcess, type Proc } from "./helpers.js";

const src = (p: string) => fileURLToPath(new URL(`../../src/${p}`, import.meta.url));

// Each rank runs this module and prints one JSON line of what it saw.
const RANK_SCRIPT = `
import { World, readDistEnv, GradReducer, convertSyncBatchNorm } from ${JSON.stringify(src("dist/index.js"))};
import { tensor, manualSeed, randn, noGrad } from ${JSON.stringify(src("tensor/index.js"))};
import { BatchNorm2d } from ${JSON.stringify(src("nn/index.js"))};
const env = readDistEnv();
const r = env.rank;
const w = await World.init(env, { timeoutMs: 30000 });
const out = {};
const a = tensor([r + 1, 10 * (r + 1)]);
await w.group.allReduce([a], "sum");
out.sum = a.toArray();
const m = tensor([r + 1, 5 - r]);
await w.group.allReduce([m], "max");
out.max = m.toArray();
const v = tensor([r + 1]);
await w.group.allReduce([v], "avg");
out.avg = v.toArray();
const f = tensor([1, 2, 3]).mul(r);
const i = tensor([7], { dtype: "i64" }).mul(r + 1);
await w.group.broadcast([f, i], 1);
out.broadcast = [f.toArray(), i.toArray(), i.dtype];
out.gather = (await w.group.allGather(tensor([r, 2 * r]))).map((t) => t.toArray());
const sub = await w.newGroup([1]);
out.subgroup = sub ? sub.size : null;
// d(loss_r)/dx_r summed over ranks: loss_r = (r + 1)·(x_0 + 3·x_1) summed over elements.
const x = tensor([1 + r, 2], { requiresGrad: true });
const all = w.group.allGatherWithGrad(x);
all.mul(tensor([[1, 1], [3, 3]])).sum().mul(r + 1).backward();
out.gatheredGrad = x.grad.toArray();
// SyncBN: rank 0 holds images 0–2 of a batch of 5, rank 1 images 3–4; the loss weighs every
// output element differently. Rank r compares its rows with one process's BatchNorm2d on all 5.
manualSeed(1);
const whole = randn([5, 4, 3, 3]).mul(2).add(1);
const lossWeights = randn([5, 4, 3, 3]);
const [start, rows] = r === 0 ? [0, 3] : [3, 2];
const makeBn = () => {
  const bn = new BatchNorm2d(4);
  noGrad(() => {
    bn.weight.copy_(tensor([0.5, 1.5, -1, 2]));
    bn.bias.copy_(tensor([0.1, 0, -0.2, 0.3]));
  });
  return bn;
};
const syncBn = makeBn();
out.converted = convertSyncBatchNorm(syncBn, w.group);
const xs = whole.narrow(0, start, rows).detach().requiresGrad_(true);
const ys = syncBn.forward(xs);
ys.mul(lossWeights.narrow(0, start, rows)).sum().backward();
const refBn = makeBn();
const xf = whole.detach().requiresGrad_(true);
const yf = refBn.forward(xf);
yf.mul(lossWeights).sum().backward();
const maxDiff = (a, b) => Math.max(...a.toArray().flat(Infinity).map((v, j) => Math.abs(v - b.toArray().flat(Infinity)[j])));
out.syncBn = {
  y: maxDiff(ys, yf.narrow(0, start, rows)),
  dx: maxDiff(xs.grad, xf.grad.narrow(0, start, rows)),
  runningMean: maxDiff(syncBn.runningMean, refBn.runningMean),
  runningVar: maxDiff(syncBn.runningVar, refBn.runningVar),
  dWeight: syncBn.weight.grad.toArray(),
  dBias: syncBn.bias.grad.toArray(),
  refDWeight: refBn.weight.grad.toArray(),
  refDBias: refBn.bias.grad.toArray(),
};
// Without affine parameters (no γ, β to pass or to return gradients for).
const plainSync = new BatchNorm2d(4, { affine: false });
convertSyncBatchNorm(plainSync, w.group);
const xp = whole.narrow(0, start, rows).detach().requiresGrad_(true);
const yp = plainSync.forward(xp);
yp.mul(lossWeights.narrow(0, start, rows)).sum().backward();
const plainRef = new BatchNorm2d(4, { affine: false });
const xpf = whole.detach().requiresGrad_(true);
const ypf = plainRef.forward(xpf);
ypf.mul(lossWeights).sum().backward();
out.syncBn.plainY = maxDiff(yp, ypf.narrow(0, start, rows));
out.syncBn.plainDx = maxDiff(xp.grad, xpf.grad.narrow(0, start, rows));
manualSeed(0);
const p = randn([4, 3]).requiresGrad_(true);
const q = randn([3]).requiresGrad_(true);
const reducer = GradReducer.create(w.group, [p, q], { firstBucketBytes: 16 });
out.buckets = reducer.buckets;
await reducer.backward(randn([2, 4]).add(r).matmul(p).add(q).pow(2).mean(), { reduce: true });
out.reduced = [...p.grad.toArray(), ...q.grad.toArray()];
// The same average by hand: each rank's gradient alone, from the same draws.
manualSeed(0);
randn([4, 3]);
randn([3]);
const base = randn([2, 4]);
const grads = [base, base.add(1)].map((input) => {
  const pp = p.detach().requiresGrad_(true);
  const qq = q.detach().requiresGrad_(true);
  input.matmul(pp).add(qq).pow(2).mean().backward();
  return [...pp.grad.toArray(), ...qq.grad.toArray()];
});
out.manualAverage = grads[0].map((g, j) => (g + grads[1][j]) / 2);
// Rank 1 arrives a second late; rank 0's timers keep firing meanwhile.
let ticks = 0;
const timer = setInterval(() => ticks++, 20);
if (r === 1) await new Promise((s) => setTimeout(s, 1000));
await w.group.barrier();
clearInterval(timer);
out.ticksWhileWaiting = ticks;
process.stdout.write(JSON.stringify(out) + "\\n");
await w.group.barrier();
await w.leave();
`;

test("collectives, sub-groups, gradients and the reducer on two processes", async () => {
  const port = await freePort();
  const procs: Proc[] = [0, 1].map((rank) =>
    nodeProcess(["--input-type=module", "-e", RANK_SCRIPT], {
      RANK: String(rank),
      WORLD_SIZE: "2",
      MASTER_ADDR: "127.0.0.1",
      MASTER_PORT: String(port),
    }),
  );
  let seen: Record<string, unknown>[];
  try {
    seen = (await allSucceed(procs)).map((r) => JSON.parse(r.stdout.trim()));
  } finally {
    killAll(procs);
  }
  for (const [rank, o] of seen.entries()) {
    assert.deepEqual(o.sum, [3, 30]);
    assert.deepEqual(o.max, [2, 5]);
    assert.deepEqual(o.avg, [1.5]);
    assert.deepEqual(o.broadcast, [[1, 2, 3], [14], "i64"]);
    assert.deepEqual(o.gather, [
      [0, 0],
      [1, 2],
    ]);
    assert.equal(o.subgroup, rank === 1 ? 1 : null);
    // Σ_r (r + 1)·c_rank with c = 1 for rank 0's slot, 3 for rank 1's.
    assert.deepEqual(o.gatheredGrad, rank === 0 ? [3, 3] : [9, 9]);
    assert.equal(o.buckets, 2, "a 16-byte first bucket holds q alone; p gets the next");
    const reduced = o.reduced as number[];
    const manual = o.manualAverage as number[];
    reduced.forEach((g, j) => assert.ok(Math.abs(g - manual[j]) < 1e-6, `gradient ${j}`));
  }
  for (const o of seen) {
    const b = o.syncBn as Record<string, number & number[]>;
    assert.equal(o.converted, 1);
    for (const k of ["y", "dx", "runningMean", "runningVar", "plainY", "plainDx"])
      assert.ok(b[k] < 1e-5, `SyncBN ${k} differs from one process's by ${b[k]}`);
  }
  // γ's and β's gradients are each rank's own share: they add up to one process's.
  const [b0, b1] = seen.map((o) => o.syncBn as Record<string, number[]>);
  for (const k of ["Weight", "Bias"])
    b0[`d${k}`].forEach((g, c) => {
      const whole = b0[`refD${k}`][c];
      assert.ok(Math.abs(g + b1[`d${k}`][c] - whole) < 1e-4, `SyncBN d${k}[${c}]`);
    });
  assert.deepEqual(seen[0].reduced, seen[1].reduced, "every rank holds the same averaged gradient");
  assert.ok(
    (seen[0].ticksWhileWaiting as number) >= 10,
    `rank 0's timers fired ${seen[0].ticksWhileWaiting} times while it waited`,
  );
});
