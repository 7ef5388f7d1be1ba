// One epoch's numbers: the running sums its training steps add to, and what they become once
// the epoch is evaluated — the EpochInfo handed to callbacks, the metrics row (JSONL, CSV,
// TensorBoard) and the printed line. Pure functions of their inputs.
import type { EvalResult } from "./evaluate.js";
import type { StepResult } from "./step.js";

/** Running sums of one epoch's training statistics (saved in a mid-epoch checkpoint as they are). */
export interface EpochSums {
  /** Σ loss·images, Σ CE·images, Σ co-training loss·images over the steps so far. */
  loss: number;
  ce: number;
  cot: number;
  images: number;
  /** Correct predictions of the ensemble and of each member (against the original labels). */
  ens: number;
  member: number[];
  /** The last step's co-training weight and learning rate. */
  w: number;
  lr: number;
  /** Steps so far. */
  n: number;
  /** Training seconds already spent on this epoch before an interruption (absent in old checkpoints). */
  seconds?: number;
  /** Training images left out because their files cannot be decoded (onBadImage "skip"; absent when none). */
  skipped?: number;
}

export interface EpochInfo {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainCe: number;
  trainCot: number;
  cotWeight: number;
  trainTop1: number;
  memberTrainTop1: number[];
  eval: EvalResult;
  seconds: number;
  imagesPerSecond: number;
  /** Training images left out of the epoch because their files cannot be decoded. */
  skippedImages: number;
}

export function emptyEpochSums(split: number): EpochSums {
  return {
    loss: 0,
    ce: 0,
    cot: 0,
    images: 0,
    ens: 0,
    member: new Array<number>(split).fill(0),
    w: 0,
    lr: 0,
    n: 0,
  };
}

/** Adds one step's result (taken at learning rate `lr`) to the sums. */
export function addStep(sums: EpochSums, r: StepResult, lr: number): void {
  sums.loss += r.loss * r.images;
  sums.ce += r.ce * r.images;
  sums.cot += r.cot * r.images;
  sums.images += r.images;
  sums.ens += r.ensembleCorrect;
  r.memberCorrect.forEach((v, i) => (sums.member[i] += v));
  sums.w = r.cotWeight;
  sums.lr = lr;
  sums.n++;
}

/** The epoch's averages (per image) and accuracies (percent) from its sums, its evaluation and its training seconds. */
export function summarizeEpoch(
  epoch: number,
  sums: EpochSums,
  ev: EvalResult,
  seconds: number,
): EpochInfo {
  const perImage = (v: number) => v / Math.max(sums.images, 1);
  return {
    epoch,
    lr: sums.lr,
    trainLoss: perImage(sums.loss),
    trainCe: perImage(sums.ce),
    trainCot: perImage(sums.cot),
    cotWeight: sums.w,
    trainTop1: (100 * sums.ens) / Math.max(sums.images, 1),
    memberTrainTop1: sums.member.map((v) => (100 * v) / Math.max(sums.images, 1)),
    eval: ev,
    seconds,
    imagesPerSecond: sums.images / seconds,
    skippedImages: sums.skipped ?? 0,
  };
}

/** The metrics row of a finished epoch (numbered from 1), `step` optimiser steps into the run. */
export function epochRow(info: EpochInfo, step: number): Record<string, number> {
  const ev = info.eval;
  return {
    epoch: info.epoch + 1,
    step,
    lr: info.lr,
    train_loss: info.trainLoss,
    train_ce: info.trainCe,
    train_cot: info.trainCot,
    cot_weight: info.cotWeight,
    train_acc1: info.trainTop1,
    val_acc1: ev.top1,
    val_acc5: ev.top5,
    val_loss: ev.loss,
    ...Object.fromEntries(ev.memberTop1.map((v, i) => [`val_acc1_member${i}`, v])),
    epoch_seconds: info.seconds,
    train_images_per_s: info.imagesPerSecond,
    train_skipped_images: info.skippedImages,
  };
}

/** The line printed after an epoch of `epochs`. */
export function epochLine(info: EpochInfo, epochs: number): string {
  const ev = info.eval;
  return (
    `epoch ${info.epoch + 1}/${epochs}: loss ${info.trainLoss.toFixed(4)} | val ensemble top-1 ${ev.top1.toFixed(2)}% top-5 ${ev.top5.toFixed(2)}% | ` +
    `members ${ev.memberTop1.map((v) => v.toFixed(2) + "%").join(" ")} | ${info.seconds.toFixed(1)} s, ${Math.round(info.imagesPerSecond)} img/s\n`
  );
}
