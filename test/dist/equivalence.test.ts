// Distributed training computes what one process computes (DESIGN.md §7): data-parallel on 2 and
// 4 ranks (global batch, SyncBN) to float tolerance, member-parallel bit for bit (each rank's
// member sees the single process's gradient: the others' logits enter as constants), and the
// two combined. Ranks are processes on 127.0.0.1 with Gloo, one thread each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readMetrics } from "../../src/report/metrics_log.js";
import {
  RECIPE,
  allSucceed,
  checkpointTensors,
  divco,
  freePort,
  killAll,
  maxDifference,
  ranks,
  tmp,
  type Proc,
} from "./helpers.js";

const root = tmp("equivalence");

// One process, the reference every distributed run is compared with.
const reference = (async () => {
  const runDir = join(root, "one");
  const [r] = await allSucceed([divco(["train", ...RECIPE, "--run-dir", runDir])]);
  return { runDir, stdout: r.stdout };
})();

async function distributed(n: number, extra: string[], name: string): Promise<string> {
  const runDir = join(root, name);
  const procs: Proc[] = ranks(n, await freePort(), [
    "train",
    ...RECIPE,
    ...extra,
    "--run-dir",
    runDir,
  ]);
  try {
    await allSucceed(procs);
  } finally {
    killAll(procs);
  }
  return runDir;
}

/** Validation numbers of every epoch: accuracies equal, losses to float tolerance. */
function assertSameEvaluation(a: string, b: string): void {
  const x = readMetrics(a);
  const y = readMetrics(b);
  assert.equal(x.length, y.length);
  x.forEach((row, i) => {
    for (const k of ["val_acc1", "val_acc5", "val_acc1_member0", "val_acc1_member1"])
      assert.equal(y[i][k], row[k], `epoch ${i + 1} ${k}`);
    for (const k of ["val_loss", "train_loss"])
      assert.ok(Math.abs(Number(y[i][k]) - Number(row[k])) < 1e-4, `epoch ${i + 1} ${k}`);
  });
}

for (const n of [2, 4]) {
  test(`${n} data-parallel processes on one global batch train the weights one process trains`, async () => {
    const one = await reference;
    const runDir = await distributed(n, [], `dp${n}`);
    const diff = maxDifference(checkpointTensors(one.runDir), checkpointTensors(runDir));
    // Reduction order differs (each rank sums its shard, then the shards are summed): float
    // rounding only, after 6 SGD steps at lr up to 0.1.
    assert.ok(diff < 1e-4, `largest weight difference ${diff}`);
    assert.ok(
      maxDifference(checkpointTensors(one.runDir, "optim."), checkpointTensors(runDir, "optim.")) <
        1e-3,
    );
    assertSameEvaluation(one.runDir, runDir);
  });
}

test("member-parallel: 2 processes (S = 2) started by divco launch train bit for bit what one process trains", async () => {
  const one = await reference;
  const runDir = join(root, "mp2");
  const launcher = divco([
    "launch",
    "--nproc-per-node",
    "2",
    "--",
    "divco",
    "train",
    ...RECIPE,
    "--member-parallel",
    "--run-dir",
    runDir,
  ]);
  try {
    const [r] = await allSucceed([launcher]);
    assert.match(r.stderr, /member-parallel: 2 members × 1 data-parallel replica = 2 processes/);
    // Only rank 0 reports.
    assert.equal(r.stdout.match(/best ensemble top-1/g)?.length, 1, r.stdout);
  } finally {
    killAll([launcher], "SIGTERM");
  }
  // Model, optimiser state (rank 1's member was brought to rank 0) and metrics: identical.
  assert.deepEqual(checkpointTensors(runDir, ""), checkpointTensors(one.runDir, ""));
  const strip = (rows: ReturnType<typeof readMetrics>) =>
    rows.map(({ epoch_seconds: _s, train_images_per_s: _i, ...rest }) => rest);
  assert.deepEqual(strip(readMetrics(runDir)), strip(readMetrics(one.runDir)));
});

test("member-parallel × data-parallel: 2 members × 2 replicas = 4 processes", async () => {
  const one = await reference;
  const runDir = await distributed(4, ["--member-parallel"], "mp2x2");
  const diff = maxDifference(checkpointTensors(one.runDir), checkpointTensors(runDir));
  assert.ok(diff < 1e-4, `largest weight difference ${diff}`);
  assertSameEvaluation(one.runDir, runDir);
});
