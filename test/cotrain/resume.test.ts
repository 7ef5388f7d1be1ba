// Choosing where a resumed run continues and repairing its directory (src/cotrain/resume.ts),
// on a small model's checkpoints: the newest intact checkpoint wins and the reason is said; a
// directory with nothing intact is refused unless nothing was committed yet; temp files, .json
// copies, best, the newest epoch copy and pruning are repaired.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Linear } from "../../src/nn/index.js";
import { SGD } from "../../src/optim/index.js";
import { manualSeed } from "../../src/tensor/index.js";
import { RunCheckpoints, freshRunState, updateBest } from "../../src/cotrain/run_checkpoints.js";
import {
  planResume,
  repairRunDir,
  ResumeRefusedError,
  newestIntact,
  surveyCheckpoints,
} from "../../src/cotrain/resume.js";
import { checkpointPaths } from "../../src/io/run_checkpoint.js";
import { MetricsLog } from "../../src/report/metrics_log.js";

/** A run directory whose checkpoints went through `top1s.length` epochs, keeping `keepLast`. */
function runDir(top1s: number[], keepLast = 2) {
  const run = fs.mkdtempSync(join(tmpdir(), "divco-resume-"));
  const dir = join(run, "checkpoints");
  fs.mkdirSync(dir);
  manualSeed(0);
  const model = new Linear(4, 3);
  const optimizer = new SGD([{ params: model.parameters() }], { lr: 0.1 });
  const ck = new RunCheckpoints(dir, model, optimizer, { arch: "linear", split: 1, keepLast });
  const state = freshRunState();
  const log = new MetricsLog(run);
  for (const top1 of top1s) {
    const e = state.position.epoch + 1;
    state.position = { epoch: e, batchIndex: 0, step: e * 3 };
    log.append({ epoch: e, val_acc1: top1 });
    ck.saveEpoch(state, { epoch: e, val_acc1: top1 }, updateBest(state, e, top1));
  }
  optimizer.dispose();
  model.dispose();
  return { run, dir, state };
}

const truncate = (file: string) => fs.truncateSync(file, fs.statSync(file).size - 5);

test("resume takes the newest intact checkpoint and says which, and why not last", () => {
  const { run, dir } = runDir([10, 30, 20]);
  const plan = planResume(run);
  assert.equal(plan.from?.name, "last");
  assert.deepEqual(plan.notes, ["resuming from checkpoints/last.safetensors (epoch 3 finished)"]);

  truncate(checkpointPaths(dir, "last").tensors);
  const fallback = planResume(run);
  assert.equal(
    fallback.from?.name,
    "epoch-0003",
    "an equal position prefers the epoch copy to best",
  );
  assert.equal(
    fallback.notes[0],
    "resuming from checkpoints/epoch-0003.safetensors (epoch 3 finished)",
  );
  assert.match(
    fallback.notes[1],
    /^ {2}skipped: .*last\.safetensors is truncated: it has \d+ of its \d+ bytes/,
  );

  fs.rmSync(checkpointPaths(dir, "epoch-0003").tensors);
  assert.deepEqual(
    [newestIntact(surveyCheckpoints(dir))?.name, newestIntact(surveyCheckpoints(dir))?.meta.epoch],
    ["epoch-0002", 2],
    "best (epoch 2) and epoch-0002 tie: the epoch copy",
  );
});

test("nothing intact: refused, naming each problem, unless nothing was committed yet", () => {
  const { run, dir } = runDir([10, 30]);
  for (const name of ["last", "best", "epoch-0001", "epoch-0002"])
    truncate(checkpointPaths(dir, name).tensors);
  const snapshot = () => fs.readdirSync(dir).map((f) => [f, fs.statSync(join(dir, f)).size]);
  const before = snapshot();
  assert.throws(
    () => planResume(run),
    (e: unknown) =>
      e instanceof ResumeRefusedError &&
      /no intact checkpoint to continue from/.test(e.message) &&
      (e.message.match(/is truncated/g) ?? []).length === 4 &&
      /metrics\.jsonl has rows up to epoch 2/.test(e.message) &&
      /Nothing was changed/.test(e.message) &&
      /divco train --config .*config\.json --run-dir NEW_DIR/.test(e.message),
  );
  assert.deepEqual(snapshot(), before);

  // Only logged rows, no checkpoint at all: more than epoch 1 logged means checkpoints were lost.
  fs.rmSync(dir, { recursive: true });
  assert.throws(() => planResume(run), /holds no checkpoint[\s\S]*rows up to epoch 2/);
  fs.writeFileSync(join(run, "metrics.jsonl"), '{"epoch":1}\n');
  const fresh = planResume(run);
  assert.equal(fresh.from, undefined, "a crash before the first checkpoint: start over");
  assert.match(fresh.notes[0], /no checkpoint was committed yet/);
});

test("repair: temp files, .json copies, best and the epoch copy rebuilt, old epochs pruned", () => {
  const { run, dir, state } = runDir([10, 30, 20], 3);
  // A crash between the epoch-3 save of last and its copies: best is epoch 2's, and suppose it
  // was damaged; epoch-0003 was never made; epoch-0001 is beyond keepLast 2; temps lie around.
  fs.writeFileSync(join(dir, ".epoch-0003.safetensors.123.0123456789ab.tmp"), "x");
  fs.writeFileSync(join(dir, "best.safetensors.tmp"), "x");
  fs.writeFileSync(join(run, ".metrics.csv.77.abcdefabcdef.tmp"), "x");
  fs.writeFileSync(join(run, "notes.tmp"), "the user's own file");
  fs.rmSync(checkpointPaths(dir, "last").meta);
  fs.rmSync(checkpointPaths(dir, "epoch-0003").tensors);
  fs.rmSync(checkpointPaths(dir, "epoch-0003").meta);
  truncate(checkpointPaths(dir, "best").tensors);

  const plan = planResume(run);
  assert.equal(plan.from?.name, "last");
  state.bestEpoch = 3; // as if epoch 3 had been the best: its best copy is missing
  const notes = repairRunDir(run, plan, state, 2);
  assert.deepEqual(notes, [
    "removed 3 temporary file(s) left by an interrupted write",
    "rebuilt checkpoints/best.safetensors from last (epoch 3 is the best so far)",
    "rebuilt checkpoints/epoch-0003.safetensors from last (the copy of epoch 3 was not made)",
    "removed epoch-0001 (keepLast 2 keeps epochs after 1)",
    "rewrote checkpoints/last.json (the readable copy of last.safetensors' metadata)",
  ]);
  assert.ok(fs.existsSync(join(run, "notes.tmp")), "only divco's own temp files are removed");
  const survey = surveyCheckpoints(dir);
  assert.deepEqual(
    survey.map((s) => [s.name, s.meta?.epoch, s.error?.problem]),
    [
      ["best", 3, undefined],
      ["epoch-0002", 2, undefined],
      ["epoch-0003", 3, undefined],
      ["last", 3, undefined],
    ],
  );
  assert.deepEqual(repairRunDir(run, planResume(run), state, 2), [], "nothing left to repair");
});
