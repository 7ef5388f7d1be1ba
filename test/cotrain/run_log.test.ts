// A resumed run's log (src/cotrain/run_log.ts): rows logged past the checkpoint are dropped
// (those epochs run again), rows missing up to it are recovered from metrics.csv, the
// checkpoints or TensorBoard, and every change is reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EpochLog } from "../../src/cotrain/run_log.js";
import type { EpochInfo } from "../../src/cotrain/epoch_stats.js";
import { readMetrics, type MetricsRow } from "../../src/report/metrics_log.js";

const rowOf = (e: number): MetricsRow => ({
  epoch: e,
  step: 3 * e,
  train_loss: 1 / 3 + e,
  val_acc1: 10.1 * e,
});

/** A run directory whose log holds epochs 1..n. */
function logged(n: number): string {
  const dir = fs.mkdtempSync(join(tmpdir(), "divco-runlog-"));
  const log = EpochLog.open(dir, 0, n, null);
  for (let e = 1; e <= n; e++)
    log.write({ epoch: e - 1 } as EpochInfo, rowOf(e) as Record<string, number>);
  log.close();
  return dir;
}

function reopen(dir: string, startEpoch: number, checkpointRows?: Map<number, MetricsRow>) {
  const log = EpochLog.open(dir, startEpoch, 5, null, { checkpointRows });
  log.close();
  return log.notes;
}

test("a cut-short last row of a checkpointed epoch comes back from metrics.csv, exactly", () => {
  const dir = logged(3);
  const jsonl = join(dir, "metrics.jsonl");
  const text = fs.readFileSync(jsonl, "utf8");
  fs.writeFileSync(jsonl, text.slice(0, text.length - 20));
  const notes = reopen(dir, 3);
  assert.equal(notes.length, 2, notes.join("\n"));
  assert.match(notes[0], /^metrics\.jsonl ended in a cut-short line \(\d+ bytes: "\{\\"epoch\\":3/);
  assert.equal(notes[1], "metrics.jsonl lacked the row of epoch 3; recovered from metrics.csv");
  assert.deepEqual(readMetrics(dir), [rowOf(1), rowOf(2), rowOf(3)]);
  assert.deepEqual(reopen(dir, 3), [], "whole again: nothing to report");
});

test("without JSONL and CSV: rows from the checkpoints, else TensorBoard (float32), else reported lost", () => {
  const dir = logged(3);
  fs.rmSync(join(dir, "metrics.jsonl"));
  fs.rmSync(join(dir, "metrics.csv"));
  const notes = reopen(dir, 3, new Map([[2, rowOf(2)]]));
  assert.deepEqual(notes, [
    "metrics.jsonl lacked the rows of epochs 1, 3; recovered from TensorBoard's events (float32 precision, no step column)",
    "metrics.jsonl lacked the row of epoch 2; recovered from the checkpoint of that epoch",
  ]);
  const f32 = (x: number) => Math.fround(x);
  const fromTb = (e: number) => ({
    epoch: e,
    train_loss: f32(rowOf(e).train_loss as number),
    val_acc1: f32(rowOf(e).val_acc1 as number),
  });
  assert.deepEqual(readMetrics(dir), [fromTb(1), rowOf(2), fromTb(3)]);

  fs.rmSync(join(dir, "metrics.jsonl"));
  fs.rmSync(join(dir, "metrics.csv"));
  fs.rmSync(join(dir, "tensorboard"), { recursive: true });
  assert.deepEqual(reopen(dir, 2), [
    "metrics.jsonl lacks the rows of epochs 1, 2, and no copy has them (metrics.csv, checkpoints, TensorBoard): they stay missing",
  ]);
});

test("rows logged after the checkpoint resumed from are dropped, and that is said", () => {
  const dir = logged(4);
  assert.deepEqual(reopen(dir, 2), [
    "metrics rows of epochs 3, 4 were logged after the checkpoint resumed from; those epochs run again",
  ]);
  assert.deepEqual(readMetrics(dir), [rowOf(1), rowOf(2)]);
});
