// A distributed run continues from its last checkpoint on any world size, and `divco launch
// --max-restarts` brings a run whose process died back from it: in both cases the final weights
// are those of an uninterrupted run (the recipe is deterministic; data-parallel steps equal one
// process's to float rounding).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { readMetrics } from "../../src/report/metrics_log.js";
import {
  RECIPE,
  allSucceed,
  assertCode,
  checkpointTensors,
  divco,
  freePort,
  killAll,
  maxDifference,
  ranks,
  tmp,
  type Proc,
} from "./helpers.js";

const root = tmp("resume");

const reference = (async () => {
  const runDir = join(root, "uninterrupted");
  await allSucceed([divco(["train", ...RECIPE, "--run-dir", runDir])]);
  return runDir;
})();

/** Asserts the run ended where the uninterrupted one did, with its weights and accuracies. */
async function assertLikeUninterrupted(runDir: string): Promise<void> {
  const one = await reference;
  const diff = maxDifference(checkpointTensors(one), checkpointTensors(runDir));
  assert.ok(diff < 1e-4, `largest weight difference ${diff}`);
  const a = readMetrics(one);
  const b = readMetrics(runDir);
  assert.deepEqual(
    b.map((r) => [r.epoch, r.step, r.val_acc1, r.val_acc5]),
    a.map((r) => [r.epoch, r.step, r.val_acc1, r.val_acc5]),
  );
}

/** Sends SIGINT to every process once rank 0 has printed a training step; expects exit 130. */
async function interrupt(procs: Proc[]): Promise<void> {
  await procs[0].waitFor(/step \d\/3/);
  for (const p of procs) p.child.kill("SIGINT");
  const results = await Promise.all(procs.map((p) => p.done));
  results.forEach((r, i) => assertCode(r, 130, `process ${i} after Ctrl-C`));
}

test("--resume across world sizes: 2 → 1 → 2 processes end with the uninterrupted run's weights", async () => {
  const runDir = join(root, "resized");
  const all: Proc[] = [];
  try {
    const two = ranks(2, await freePort(), ["train", ...RECIPE, "--run-dir", runDir]);
    all.push(...two);
    await interrupt(two);
    const one = divco(["train", "--resume", runDir]);
    all.push(one);
    await interrupt([one]);
    const again = ranks(2, await freePort(), ["train", "--resume", runDir]);
    all.push(...again);
    const [r0] = await allSucceed(again);
    assert.match(r0.stdout, /best ensemble top-1/);
  } finally {
    killAll(all);
  }
  await assertLikeUninterrupted(runDir);
});

test("divco launch --max-restarts: a rank killed mid-run, all restarted from the last checkpoint", async () => {
  const runDir = join(root, "restarted");
  const launcher = divco([
    "launch",
    "--nproc-per-node",
    "2",
    "--max-restarts",
    "1",
    "--",
    "divco",
    "train",
    ...RECIPE,
    "--run-dir",
    runDir,
  ]);
  try {
    // Epoch 1 is checkpointed before epoch 2 starts.
    await launcher.waitFor(/epoch 2\/2 step 1\/3/);
    const pids = execFileSync("ps", ["-o", "pid=", "--ppid", String(launcher.child.pid)])
      .toString()
      .trim()
      .split(/\s+/)
      .map(Number);
    assert.equal(pids.length, 2, `the launcher's processes: ${pids}`);
    process.kill(pids[1], "SIGKILL");
    const [r] = await allSucceed([launcher]);
    assert.match(
      r.stderr,
      /divco launch: rank \d failed \(exit code \d+\); restarting all 2 processes of this machine from the last checkpoint \(restart 1 of 1\)/,
    );
  } finally {
    killAll([launcher], "SIGTERM");
  }
  await assertLikeUninterrupted(runDir);
});
