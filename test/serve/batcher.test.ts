// The dynamic batcher with a fake forward pass (no model): a batch runs when max-batch images
// wait or the oldest has waited max-wait-ms; requests are never split and keep their order;
// one forward at a time; a deadline takes a waiting request out of the queue (and answers a
// running one with 504); an aborted request leaves the queue; a failed forward fails only its
// own batch; drain() runs what waits at once and resolves when idle; told how many requests are
// on their way, it waits for those and for nothing else.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Batcher, type BatchOutputs, type Forward } from "../../src/serve/batcher.js";
import { ServeError } from "../../src/serve/errors.js";

/** A row of one value per image (sample size 1), so outputs can be traced to their inputs. */
const rows = (...v: number[]) => Float32Array.from(v);

/** A forward whose outputs are the inputs (one class), recording each batch; optionally slow. */
function fakeForward(o: { delayMs?: number; failOn?: number } = {}) {
  const batches: number[][] = [];
  let running = 0;
  let maxRunning = 0;
  const forward: Forward = async (x, n) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    batches.push(Array.from(x));
    try {
      if (o.delayMs) await sleep(o.delayMs);
      if (o.failOn !== undefined && x.includes(o.failOn)) throw new Error("forward failed");
      const out: BatchOutputs = {
        n,
        numClasses: 1,
        probabilities: Float32Array.from(x),
        scores: Float32Array.from(x, (v) => -v),
        members: [Float32Array.from(x, (v) => 10 * v)],
      };
      return out;
    } finally {
      running--;
    }
  };
  return { forward, batches, maxRunning: () => maxRunning };
}

const OPTS = { maxBatch: 4, maxWaitMs: 50, timeoutMs: 5000 };

test(
  "a batch runs as soon as max-batch images wait; each request gets its own rows",
  { timeout: 10_000 },
  async () => {
    const f = fakeForward();
    const b = new Batcher(f.forward, { ...OPTS, maxWaitMs: 60_000 });
    const outs = await Promise.all([
      b.submit(rows(1), 1),
      b.submit(rows(2, 3), 2),
      b.submit(rows(4), 1),
    ]);
    assert.deepEqual(f.batches, [[1, 2, 3, 4]]);
    assert.deepEqual(
      outs.map((o) => [
        o.n,
        Array.from(o.probabilities),
        Array.from(o.scores),
        Array.from(o.members[0]),
      ]),
      [
        [1, [1], [-1], [10]],
        [2, [2, 3], [-2, -3], [20, 30]],
        [1, [4], [-4], [40]],
      ],
    );
  },
);

test(
  "without an arriving count, a lone request waits max-wait-ms; later ones form the next batch",
  { timeout: 10_000 },
  async () => {
    const f = fakeForward();
    const b = new Batcher(f.forward, OPTS);
    const t0 = performance.now();
    await b.submit(rows(7), 1);
    assert.ok(performance.now() - t0 >= OPTS.maxWaitMs - 1);
    await Promise.all([b.submit(rows(8), 1), b.submit(rows(9), 1)]);
    assert.deepEqual(f.batches, [[7], [8, 9]]);
  },
);

test(
  "requests are not split: one that does not fit waits for the next batch, in order",
  { timeout: 10_000 },
  async () => {
    const f = fakeForward({ delayMs: 20 });
    const b = new Batcher(f.forward, { ...OPTS, maxWaitMs: 0 });
    await Promise.all([
      b.submit(rows(1, 1, 1), 3),
      b.submit(rows(2, 2), 2),
      b.submit(rows(3, 3), 2),
      b.submit(rows(4), 1),
    ]);
    // The first runs alone (nothing else waited yet); then 2+2 fit, 1 does not fit after them.
    assert.deepEqual(f.batches, [[1, 1, 1], [2, 2, 3, 3], [4]]);
    assert.equal(f.maxRunning(), 1);
    assert.throws(() => b.submit(rows(1, 2, 3, 4, 5), 5), /1\.\.4 images, got 5/);
  },
);

test(
  "the deadline takes a waiting request out of the queue with 504; a running one is answered 504 too",
  { timeout: 10_000 },
  async () => {
    const f = fakeForward({ delayMs: 300 });
    const b = new Batcher(f.forward, { maxBatch: 1, maxWaitMs: 0, timeoutMs: 100 });
    const running = b.submit(rows(1), 1);
    const waiting = b.submit(rows(2), 1);
    await sleep(10);
    assert.equal(b.depth, 1);
    for (const p of [running, waiting]) {
      await assert.rejects(p, (e: unknown) => e instanceof ServeError && e.status === 504);
    }
    assert.equal(b.depth, 0);
    await b.drain();
    // The waiting request never ran.
    assert.deepEqual(f.batches, [[1]]);
  },
);

test("an aborted request leaves the queue; the others still run", { timeout: 10_000 }, async () => {
  const f = fakeForward();
  const b = new Batcher(f.forward, { ...OPTS, maxWaitMs: 200 });
  const ac = new AbortController();
  const gone = b.submit(rows(1), 1, ac.signal);
  const kept = b.submit(rows(2), 1);
  ac.abort(new Error("client went away"));
  await assert.rejects(gone, /client went away/);
  assert.deepEqual(Array.from((await kept).probabilities), [2]);
  assert.deepEqual(f.batches, [[2]]);
  const early = new AbortController();
  early.abort(new Error("already gone"));
  await assert.rejects(b.submit(rows(3), 1, early.signal), /already gone/);
});

test("a failed forward fails its own batch only", { timeout: 10_000 }, async () => {
  const f = fakeForward({ failOn: 13 });
  const b = new Batcher(f.forward, { ...OPTS, maxBatch: 2, maxWaitMs: 0 });
  const [a, bad, c] = await Promise.allSettled([
    b.submit(rows(13), 1),
    b.submit(rows(5), 1),
    b.submit(rows(6), 1),
  ]);
  assert.equal(a.status, "rejected");
  assert.equal(bad.status, "fulfilled");
  assert.equal(c.status, "fulfilled");
  assert.deepEqual(f.batches, [[13], [5, 6]]);
});

test(
  "drain() runs what waits at once and resolves when nothing is queued or running",
  { timeout: 10_000 },
  async () => {
    const f = fakeForward({ delayMs: 20 });
    const b = new Batcher(f.forward, { ...OPTS, maxWaitMs: 60_000 });
    const p = [b.submit(rows(1), 1), b.submit(rows(2), 1)];
    const t0 = performance.now();
    await b.drain();
    assert.ok(performance.now() - t0 < 30_000, "drain did not wait for max-wait-ms");
    for (const out of await Promise.all(p)) assert.equal(out.n, 1);
    assert.deepEqual(f.batches, [[1, 2]]);
    // Still answers after draining (requests in flight at shutdown arrive late).
    assert.equal((await b.submit(rows(3), 1)).n, 1);
  },
);

test(
  "Retry-After grows with the requests ahead, by the recent batch time, and is at least 1 s",
  { timeout: 10_000 },
  async () => {
    const f = fakeForward({ delayMs: 300 });
    const b = new Batcher(f.forward, { maxBatch: 1, maxWaitMs: 0, timeoutMs: 5000 });
    assert.equal(b.retryAfterSeconds(0), 1);
    await b.submit(rows(1), 1);
    // 10 requests ahead at ≥ 0.3 s per batch of one: (10 + 1) batches ≥ 3.3 s.
    assert.ok(b.retryAfterSeconds(10) >= 3, String(b.retryAfterSeconds(10)));
    assert.ok(b.retryAfterSeconds(10) > b.retryAfterSeconds(1));
  },
);

test(
  "told how many requests are on their way, a batch waits for those only (max-wait-ms still caps it)",
  { timeout: 10_000 },
  async () => {
    const f = fakeForward();
    let arriving = 0;
    const b = new Batcher(f.forward, { ...OPTS, maxWaitMs: 60_000, arriving: () => arriving });
    // None on its way: a lone request runs at once, not after max-wait-ms.
    assert.deepEqual(Array.from((await b.submit(rows(1), 1)).probabilities), [1]);
    // Two on their way: the first waits for the second, which then arrives.
    arriving = 2;
    arriving--;
    const first = b.submit(rows(2), 1);
    await sleep(30);
    assert.equal(b.depth, 1);
    arriving--;
    const second = b.submit(rows(3), 1);
    await Promise.all([first, second]);
    // One on its way that fails instead (no submit): poke() lets the waiting one run.
    arriving = 1;
    const third = b.submit(rows(4), 1);
    await sleep(30);
    assert.equal(b.depth, 1);
    arriving = 0;
    b.poke();
    await third;
    assert.deepEqual(f.batches, [[1], [2, 3], [4]]);
    // max-wait-ms caps the wait for requests that never come.
    const capped = new Batcher(f.forward, { ...OPTS, maxWaitMs: 40, arriving: () => 5 });
    await capped.submit(rows(5), 1);
    assert.deepEqual(f.batches.at(-1), [5]);
  },
);
