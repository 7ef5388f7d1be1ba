// An epoch's numbers from its running sums (src/cotrain/epoch_stats.ts): per-image averages,
// accuracies in percent, the metrics row's columns in order, and the printed line.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addStep,
  emptyEpochSums,
  epochLine,
  epochRow,
  summarizeEpoch,
} from "../../src/cotrain/epoch_stats.js";
import type { StepResult } from "../../src/cotrain/step.js";
import type { EvalResult } from "../../src/cotrain/evaluate.js";

const step = (o: Partial<StepResult>): StepResult => ({
  loss: 0,
  ce: 0,
  cot: 0,
  cotWeight: 0,
  memberCorrect: [0, 0],
  ensembleCorrect: 0,
  images: 0,
  stepped: true,
  ...o,
});

const ev: EvalResult = { top1: 61.5, top5: 95.25, memberTop1: [58, 57.5], loss: 2.5, images: 200 };

test("running sums weight each step's losses by its images and keep the last lr and weight", () => {
  const sums = emptyEpochSums(2);
  assert.deepEqual(sums, {
    loss: 0,
    ce: 0,
    cot: 0,
    images: 0,
    ens: 0,
    member: [0, 0],
    w: 0,
    lr: 0,
    n: 0,
  });
  addStep(
    sums,
    step({
      loss: 2,
      ce: 1.5,
      cot: 1,
      cotWeight: 0.25,
      memberCorrect: [10, 12],
      ensembleCorrect: 14,
      images: 32,
    }),
    0.1,
  );
  addStep(
    sums,
    step({
      loss: 1,
      ce: 0.5,
      cot: 0.5,
      cotWeight: 0.5,
      memberCorrect: [6, 4],
      ensembleCorrect: 8,
      images: 16,
    }),
    0.05,
  );
  assert.deepEqual(sums, {
    loss: 80,
    ce: 56,
    cot: 40,
    images: 48,
    ens: 22,
    member: [16, 16],
    w: 0.5,
    lr: 0.05,
    n: 2,
  });
});

test("the epoch summary, metrics row and printed line come from the sums, the evaluation and the seconds", () => {
  const sums = {
    loss: 80,
    ce: 56,
    cot: 40,
    images: 48,
    ens: 24,
    member: [12, 36],
    w: 0.5,
    lr: 0.05,
    n: 2,
  };
  const info = summarizeEpoch(3, sums, ev, 4);
  assert.deepEqual(info, {
    epoch: 3,
    lr: 0.05,
    trainLoss: 80 / 48,
    trainCe: 56 / 48,
    trainCot: 40 / 48,
    cotWeight: 0.5,
    trainTop1: 50,
    memberTrainTop1: [25, 75],
    eval: ev,
    seconds: 4,
    imagesPerSecond: 12,
    skippedImages: 0,
  });
  const row = epochRow(info, 17);
  assert.deepEqual(
    Object.keys(row),
    [
      "epoch",
      "step",
      "lr",
      "train_loss",
      "train_ce",
      "train_cot",
      "cot_weight",
      "train_acc1",
      "val_acc1",
      "val_acc5",
      "val_loss",
      "val_acc1_member0",
      "val_acc1_member1",
      "epoch_seconds",
      "train_images_per_s",
      "train_skipped_images",
    ],
    "the columns, in the order metrics.csv shows them",
  );
  assert.equal(row.epoch, 4, "rows are numbered by finished epoch, from 1");
  assert.equal(row.step, 17);
  assert.equal(row.val_acc1_member1, 57.5);
  assert.equal(row.train_images_per_s, 12);
  assert.equal(row.train_skipped_images, 0);
  const skipped = summarizeEpoch(3, { ...sums, skipped: 2 }, ev, 4);
  assert.equal(epochRow(skipped, 17).train_skipped_images, 2, "images skipped as undecodable");
  assert.equal(
    epochLine(info, 10),
    "epoch 4/10: loss 1.6667 | val ensemble top-1 61.50% top-5 95.25% | members 58.00% 57.50% | 4.0 s, 12 img/s\n",
  );
});

test("an epoch with no images averages to 0 instead of NaN", () => {
  const info = summarizeEpoch(0, emptyEpochSums(1), ev, 1);
  assert.equal(info.trainLoss, 0);
  assert.equal(info.trainTop1, 0);
  assert.deepEqual(info.memberTrainTop1, [0]);
});
