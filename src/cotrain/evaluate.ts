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

export async function evaluate(
  members: Members,
  loader: MultiViewLoader,
  o: { rule?: EnsembleRule; memoryFormat?: MemoryFormatName; device?: string; epoch?: number } = {},
): Promise<EvalResult> {
  const wasTraining = members.training;
  members.eval();
  const S = members.split;
  let top1 = 0;
  let top5 = 0;
  let loss = 0;
  let images = 0;
  const memberTop1 = new Array<number>(S).fill(0);
  try {
    for await (const batch of loader.epoch(o.epoch ?? 0)) {
      inferenceMode(() =>
        scope(() => {
          const x = viewTensor(batch.views[0], batch.shape, o.memoryFormat ?? "contiguous", o.device ?? "cpu");
          const y = labelTensor(batch.labels, o.device ?? "cpu");
          const outs = members.forwardEach(x);
          const scores = ensemble(o.rule ?? "mean_logits", outs);
          top1 += correct(scores, y, 1);
          top5 += correct(scores, y, 5);
          outs.forEach((z, i) => {
            memberTop1[i] += z.argmax(1).eq(y).sum().item();
            loss += crossEntropy(z, y, { reduction: "sum" }).item();
          });
          images += batch.labels.length;
        }),
      );
      // Give signal handlers and timers a turn (see the same line in trainer.ts).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    members.train(wasTraining);
  }
  const pct = (c: number) => (100 * c) / Math.max(images, 1);
  return { top1: pct(top1), top5: pct(top5), memberTop1: memberTop1.map(pct), loss: loss / Math.max(images, 1), images };
}

