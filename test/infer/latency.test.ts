// Latency statistics and interleaved timing: median and nearest-rank p90 of known samples,
// warm-up calls not timed, and rounds that call every candidate once in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { summarize, timeInterleaved } from "../../src/infer/latency.js";
import { latencyRatios, type LatencyRecord } from "../../src/infer/bench.js";

test("summarize: median, p90 (nearest rank), min and images/s", () => {
  const s = summarize([5, 1, 4, 2, 3, 10, 6, 7, 9, 8], 4);
  assert.equal(s.samples, 10);
  assert.equal(s.medianMs, 5.5);
  assert.equal(s.p90Ms, 9);
  assert.equal(s.minMs, 1);
  assert.equal(s.imagesPerSecond, (1000 * 4) / 5.5);
  assert.equal(summarize([3, 1, 2], 1).medianMs, 2);
});

test("timeInterleaved: warm-up untimed (each candidate's in a row), then rounds of every candidate in order (re-warmed)", async () => {
  const calls: string[] = [];
  const times = await timeInterleaved(
    ["a", "b"].map((name) => async () => {
      calls.push(name);
    }),
    { warmup: 2, minRounds: 3, maxRounds: 3, rewarm: 0 },
  );
  assert.deepEqual(calls, ["a", "a", "b", "b", "a", "b", "a", "b", "a", "b"]);
  calls.length = 0;
  await timeInterleaved(
    ["a", "b"].map((name) => async () => {
      calls.push(name);
    }),
    { warmup: 0, minRounds: 2, maxRounds: 2, rewarm: 1 },
  );
  // Each timed call follows an untimed one of the same candidate.
  assert.deepEqual(calls, ["a", "a", "b", "b", "a", "a", "b", "b"]);
  // By default the re-warm lasts ≥ 100 ms, at most 8 calls: 8 of a 1 ms call, 2 of a 60 ms one.
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const counts = { fast: 0, slow: 0 };
  await timeInterleaved(
    [
      async () => {
        counts.fast++;
        await sleep(1);
      },
      async () => {
        counts.slow++;
        await sleep(60);
      },
    ],
    { warmup: 0, minRounds: 1, maxRounds: 1 },
  );
  assert.deepEqual(counts, { fast: 9, slow: 3 });
  assert.deepEqual(
    times.map((t) => t.length),
    [3, 3],
  );
  assert.ok(times.flat().every((t) => t >= 0));
});

test("timeInterleaved: after a switch of candidates, re-warms until calls are fast again", async () => {
  // Like a change of intra-op thread count on the development VM: the first two calls of a
  // candidate after the other one ran are slow (150 ms), later ones take ~1 ms. A re-warm that
  // stopped at 100 ms would time the second slow call in every round.
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let previous = -1;
  let slowLeft = 0;
  const candidate = (id: number) => async () => {
    if (previous !== id) slowLeft = 2;
    previous = id;
    await sleep(slowLeft-- > 0 ? 150 : 1);
  };
  const times = await timeInterleaved([candidate(0), candidate(1)], {
    warmup: 3,
    minRounds: 3,
    maxRounds: 3,
  });
  for (const t of times.flat()) assert.ok(t < 100, `a slow call after the switch was timed: ${t}`);
});

test("latencyRatios: best divided mode against the undivided network and sequential", () => {
  const rec = (split: number, mode: LatencyRecord["mode"], ms: number): LatencyRecord => ({
    arch: "a",
    dataset: "cifar100",
    split,
    mode,
    batch: 1,
    threads: 2,
    layout: "",
    latency_ms_median: ms,
    latency_ms_p90: ms,
    images_per_s: 1000 / ms,
    samples: 5,
  });
  const ratios = latencyRatios([
    rec(1, "undivided", 10),
    rec(2, "sequential", 12),
    rec(2, "concurrent", 6),
    rec(2, "fused", 8),
  ]);
  assert.deepEqual(ratios, [
    {
      arch: "a",
      split: 2,
      batch: 1,
      best_mode: "concurrent",
      vs_undivided: 0.6,
      speedup_vs_sequential: 2,
    },
  ]);
});
