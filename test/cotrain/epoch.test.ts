// One training epoch on its own (src/cotrain/epoch.ts): a stop request mid-epoch saves `last`
// with the position and running sums and returns; continuing from there ends the epoch with
// exactly the sums of an epoch that never stopped. Also the stop request itself (stop.ts) and
// the choice of step runner (step_runner.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { resolveConfig, type TrainConfig } from "../../src/cotrain/config.js";
import { buildRun, closeRun, type Run } from "../../src/cotrain/run.js";
import { startStepRunner } from "../../src/cotrain/step_runner.js";
import { trainOneEpoch, type EpochContext } from "../../src/cotrain/epoch.js";
import { RunCheckpoints, freshRunState } from "../../src/cotrain/run_checkpoints.js";
import { emptyEpochSums, type EpochSums } from "../../src/cotrain/epoch_stats.js";
import { StopRequest } from "../../src/cotrain/stop.js";
import "../../src/models/index.js";

// resnet29, S=2, 96 sample images: 3 batches of 32.
const config = (runDir: string, o: Partial<TrainConfig> = {}) =>
  resolveConfig({
    arch: "resnet29",
    split: 2,
    data: "sample",
    trainLimit: 96,
    evalLimit: 50,
    batchSize: 32,
    evalBatchSize: 50,
    epochs: 2,
    warmupEpochs: 0,
    cotWarmupEpochs: 1,
    workers: 0,
    keepLast: 1,
    seed: 3,
    threads: 1,
    runDir,
    ...o,
  });

async function withRun<T>(
  c: TrainConfig,
  f: (run: Run, ctx: EpochContext, stop: { requested: boolean }) => Promise<T>,
): Promise<T> {
  const run = await buildRun(c);
  const steps = await startStepRunner(run);
  const dir = join(c.runDir, "checkpoints");
  mkdirSync(dir, { recursive: true });
  const stop = { requested: false };
  const ctx: EpochContext = {
    run,
    steps,
    state: freshRunState(),
    stop,
    out: null,
    checkpoints: new RunCheckpoints(dir, run.members, run.optimizer, {
      arch: c.arch,
      split: c.split,
      keepLast: c.keepLast,
    }),
  };
  try {
    return await f(run, ctx, stop);
  } finally {
    await steps.close();
    await closeRun(run);
  }
}

test("a stop request mid-epoch saves last and returns; continuing ends the epoch as if it never stopped", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "divco-epoch-"));
  const straight = await withRun(config(join(tmp, "straight")), async (_, ctx) => {
    const r = await trainOneEpoch(ctx, 0, emptyEpochSums(2));
    assert.equal(r.status, "finished");
    assert.deepEqual(
      ctx.state.position,
      { epoch: 0, batchIndex: 0, step: 3 },
      "the caller moves the position to the next epoch",
    );
    return r.sums;
  });

  const c = config(join(tmp, "stopped"));
  await withRun(c, async (run, ctx, stop) => {
    const seen: number[] = [];
    ctx.onStep = (s) => {
      seen.push(s.batchIndex);
      if (s.batchIndex === 0) stop.requested = true;
    };
    const sums = emptyEpochSums(2);
    const first = await trainOneEpoch(ctx, 0, sums);
    assert.equal(first.status, "stopped");
    assert.deepEqual(seen, [0], "the stop is honoured at the end of the step it was asked in");
    assert.deepEqual(ctx.state.position, { epoch: 0, batchIndex: 1, step: 1 });
    const last = JSON.parse(readFileSync(join(c.runDir, "checkpoints", "last.json"), "utf8"));
    assert.deepEqual([last.epoch, last.batchIndex, last.step], [0, 1, 1]);
    assert.equal(last.partialEpoch.n, 1);
    assert.equal(last.partialEpoch.images, 32);
    assert.ok(
      last.partialEpoch.seconds > 0 && last.partialEpoch.seconds === first.seconds,
      "the epoch's seconds so far are saved with it",
    );

    stop.requested = false;
    const rest = await trainOneEpoch(ctx, 0, first.sums);
    assert.equal(rest.status, "finished");
    assert.deepEqual(seen, [0, 1, 2]);
    assert.ok(rest.seconds > first.seconds, "seconds continue from the stopped part");
    const withoutSeconds = (s: EpochSums) => ({ ...s, seconds: undefined });
    assert.deepEqual(
      withoutSeconds(rest.sums),
      withoutSeconds(straight),
      "losses, counts, lr and weight equal the unstopped epoch's",
    );
    assert.equal(run.members.training, true);
    await assert.rejects(trainOneEpoch(ctx, 1, emptyEpochSums(2)), /the run is at epoch 0, not 1/);
  });
});

test("a stop requested during the epoch's last step lets the epoch finish", async () => {
  const c = config(join(mkdtempSync(join(tmpdir(), "divco-epoch-")), "run"));
  await withRun(c, async (_, ctx, stop) => {
    ctx.onStep = (s) => void (s.batchIndex === 2 && (stop.requested = true));
    const r = await trainOneEpoch(ctx, 0, emptyEpochSums(2));
    assert.equal(
      r.status,
      "finished",
      "the caller evaluates and checkpoints the finished epoch, then stops",
    );
    assert.equal(r.sums.n, 3);
  });
});

test("the step runner is chosen once from the config", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "divco-epoch-"));
  for (const [concurrentMembers, kind] of [
    [false, "sequential"],
    [true, "concurrent"],
  ] as const) {
    const run = await buildRun(config(join(tmp, kind), { concurrentMembers }));
    const steps = await startStepRunner(run);
    try {
      assert.equal(steps.kind, kind);
    } finally {
      await steps.close();
      await steps.close();
      await closeRun(run);
    }
  }
});

test("a stop request: AbortSignal (also one aborted before the start), Ctrl-C with its notice, handlers removed", () => {
  const ac = new AbortController();
  const byAbort = new StopRequest({ signal: ac.signal });
  assert.equal(byAbort.requested, false);
  ac.abort();
  assert.equal(byAbort.requested, true);
  byAbort.dispose();
  assert.equal(new StopRequest({ signal: ac.signal }).requested, true, "an already aborted signal");

  let printed = "";
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      printed += chunk.toString();
      done();
    },
  });
  const listeners = process.listenerCount("SIGINT");
  const bySigint = new StopRequest({ handleSigint: true, out });
  assert.equal(process.listenerCount("SIGINT"), listeners + 1);
  process.emit("SIGINT");
  assert.equal(bySigint.requested, true);
  assert.match(
    printed,
    /stopping after this step and saving a checkpoint \(Ctrl-C again to quit now\)/,
  );
  bySigint.dispose();
  assert.equal(process.listenerCount("SIGINT"), listeners, "the handler is gone with the request");

  const late = new AbortController();
  const disposed = new StopRequest({ signal: late.signal });
  disposed.dispose();
  late.abort();
  assert.equal(disposed.requested, false, "a disposed request no longer listens");
});
