// Evaluation: the ensemble's top-1/top-5 and every member's top-1 (REFERENCE.md §4).
import type { Tensor } from "../tensor/tensor.js";
import { inferenceMode } from "../tensor/autograd.js";
import { scope } from "../tensor/scope.js";
import type { MemoryFormatName } from "../tensor/dtype.js";
import type { Members } from "../models/members.js";
import { ensemble, type EnsembleRule } from "../models/ensemble.js";
import type { MultiViewLoader } from "../data/loader.js";
import { crossEntropy } from "../nn/functional.js";
import { labelTensor, viewTensor } from "./batch.js";

export interface EvalResult {
  /** Ensemble accuracy, percent. */
  top1: number;
  top5: number;
  /** Each member's top-1, percent. */
  memberTop1: number[];
  /** Mean over images of the members' summed cross-entropy (the reference's logged val loss). */
  loss: number;
  images: number;
}

function correct(scores: Tensor, labels: Tensor, k: number): number {
  const kk = Math.min(k, scores.shape[1]);
  const [, idx] = scores.topk(kk, 1);
  return idx.eq(labels.unsqueeze(1)).any(1).sum().item();
}

/**
 * An evaluation's sums: correct predictions (ensemble top-1 and top-5, each member's top-1), the
 * members' summed cross-entropy and the images seen. Sums, unlike percentages, add up across
 * shards of the evaluation set (distributed ranks reduce these before evalResult).
 */
export interface EvalCounts {
  top1Correct: number;
  top5Correct: number;
  memberCorrect: number[];
  lossSum: number;
  images: number;
}

export interface EvaluateOptions {
  /** How the members' logits are combined (REFERENCE.md §4); default mean_logits. */
  rule?: EnsembleRule;
  memoryFormat?: MemoryFormatName;
  device?: string;
  /** The loader epoch to iterate (only matters to a shuffling loader). */
  epoch?: number;
  /**
   * Computes every member's logits for a batch instead of `members.forwardEach` — an inference
   * Ensemble's `memberLogits` in some execution mode (src/infer). The caller owns the result.
   */
  forwardMembers?: (x: Tensor) => Promise<Tensor[]>;
}

/** Empty sums for S members. */
export function emptyEvalCounts(S: number): EvalCounts {
  return {
    top1Correct: 0,
    top5Correct: 0,
    memberCorrect: new Array<number>(S).fill(0),
    lossSum: 0,
    images: 0,
  };
}

/** Adds one batch to `c`: the members' logits `outs` for the images labelled `y`. */
export function addBatchCounts(
  c: EvalCounts,
  outs: Tensor[],
  y: Tensor,
  rule: EnsembleRule = "mean_logits",
): void {
  scope(() => {
    const scores = ensemble(rule, outs);
    c.top1Correct += correct(scores, y, 1);
    c.top5Correct += correct(scores, y, 5);
    outs.forEach((z, i) => {
      c.memberCorrect[i] += z.argmax(1).eq(y).sum().item();
      c.lossSum += crossEntropy(z, y, { reduction: "sum" }).item();
    });
    c.images += y.shape[0];
  });
}

/** Runs the members in eval mode over `loader` and returns the sums (restores train mode after). */
export async function evaluateCounts(
  members: Members,
  loader: MultiViewLoader,
  o: EvaluateOptions = {},
): Promise<EvalCounts> {
  const wasTraining = members.training;
  members.eval();
  const counts = emptyEvalCounts(members.split);
  try {
    const input = (views: Float32Array, shape: readonly number[]) =>
      viewTensor(views, shape, o.memoryFormat ?? "contiguous", o.device ?? "cpu");
    for await (const batch of loader.epoch(o.epoch ?? 0)) {
      if (o.forwardMembers) {
        using x = input(batch.views[0], batch.shape);
        const outs = await o.forwardMembers(x);
        try {
          inferenceMode(() =>
            scope(() =>
              addBatchCounts(counts, outs, labelTensor(batch.labels, outs[0].device), o.rule),
            ),
          );
        } finally {
          for (const z of outs) z.dispose();
        }
      } else {
        inferenceMode(() =>
          scope(() => {
            const x = input(batch.views[0], batch.shape);
            const y = labelTensor(batch.labels, o.device ?? "cpu");
            addBatchCounts(counts, members.forwardEach(x), y, o.rule);
          }),
        );
      }
      // Give signal handlers and timers a turn (see the same line in epoch.ts).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    members.train(wasTraining);
  }
  return counts;
}

/** Percentages and the mean loss per image from an evaluation's sums. */
export function evalResult(c: EvalCounts): EvalResult {
  const pct = (v: number) => (100 * v) / Math.max(c.images, 1);
  return {
    top1: pct(c.top1Correct),
    top5: pct(c.top5Correct),
    memberTop1: c.memberCorrect.map(pct),
    loss: c.lossSum / Math.max(c.images, 1),
    images: c.images,
  };
}

/** The ensemble's top-1/top-5 and each member's top-1 (percent) and the mean loss over `loader`. */
export async function evaluate(
  members: Members,
  loader: MultiViewLoader,
  o: EvaluateOptions = {},
): Promise<EvalResult> {
  return evalResult(await evaluateCounts(members, loader, o));
}
