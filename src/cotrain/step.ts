// One co-training step (REFERENCE.md §3): member i gets view i; loss = Σ_i CE(z_i, y) +
// w(epoch)·cot(z_1..z_S); backward; an optimiser step every `gradAccumulation` batches.
import type { Tensor } from "../tensor/tensor.js";
import type { MemoryFormatName } from "../tensor/dtype.js";
import type { Members } from "../models/members.js";
import { ensemble } from "../models/ensemble.js";
import type { Optimizer } from "../optim/optimizer.js";
import type { Batch } from "../data/loader.js";
import { softTargets } from "../data/transforms/targets.js";
import { coTrainingLoss, coTrainingWeight, sumCrossEntropy, type CotLoss } from "./losses.js";
import { labelTensor, softTargetTensor, viewTensor } from "./batch.js";
import { scope } from "../tensor/scope.js";
import type { ConcurrentMembers } from "./concurrent.js";

export interface StepOptions {
  numClasses: number;
  labelSmoothing: number;
  cotLoss: CotLoss | "none";
  cotWeight: number;
  cotWarmupEpochs: number;
  gradAccumulation: number;
  memoryFormat: MemoryFormatName;
  device: string;
}

export interface StepResult {
  loss: number;
  ce: number;
  cot: number;
  cotWeight: number;
  /** Each member's correct predictions against the original labels (mixup partners ignored, §3.3). */
  memberCorrect: number[];
  ensembleCorrect: number;
  images: number;
  stepped: boolean;
}

/** The step's input tensors: one input per member, the hard labels and the loss target. */
export interface Prepared {
  inputs: Tensor[];
  labels: Tensor;
  target: Tensor;
}

export function prepare(S: number, batch: Batch, o: StepOptions): Prepared {
  const views = batch.views.map((v) => viewTensor(v, batch.shape, o.memoryFormat, o.device));
  // With one view for S members (the same-view ablation), every member gets it.
  const inputs: Tensor[] = views.length === S ? views : Array.from({ length: S }, () => views[0]);
  const soft = batch.mixup !== undefined || o.labelSmoothing > 0;
  const labels = labelTensor(batch.labels, o.device);
  const target = soft
    ? softTargetTensor(
        softTargets(batch.labels, o.numClasses, o.labelSmoothing, batch.mixup),
        batch.labels.length,
        o.device,
      )
    : labels;
  return { inputs, labels, target };
}

/** The step's loss terms: Σ CE, the co-training term and its weight, and the loss to backpropagate. */
export interface LossTerms {
  loss: Tensor;
  /** The loss divided by gradAccumulation: what backward starts from. */
  scaled: Tensor;
  ce: Tensor;
  cot: Tensor | null;
  w: number;
}

/** Σ CE + w·cot on the members' logits (REFERENCE.md §3.2). */
export function lossTerms(logits: Tensor[], p: Prepared, epoch: number, o: StepOptions): LossTerms {
  const S = logits.length;
  const ce = sumCrossEntropy(logits, p.target);
  const w = coTrainingWeight(epoch, o.cotWeight, o.cotWarmupEpochs);
  const cot = S > 1 && o.cotLoss !== "none" ? coTrainingLoss(o.cotLoss, logits) : null;
  const loss = cot ? ce.add(cot.mul(w)) : ce;
  const scaled = o.gradAccumulation > 1 ? loss.div(o.gradAccumulation) : loss;
  return { loss, scaled, ce, cot, w };
}

/** Σ CE + w·cot on the members' logits, backpropagated; the numbers for the step's report. */
function lossAndBackward(logits: Tensor[], p: Prepared, epoch: number, o: StepOptions) {
  const terms = lossTerms(logits, p, epoch, o);
  terms.scaled.backward();
  return stepNumbers(logits, p, terms);
}

/** The numbers a step reports, after its backward: losses and correct predictions. */
export function stepNumbers(logits: Tensor[], p: Prepared, t: LossTerms) {
  const S = logits.length;
  const { loss, ce, cot, w } = t;
  const memberCorrect = logits.map((z) => z.detach().argmax(1).eq(p.labels).sum().item());
  // Training accuracy of the ensemble by the reference's default rule, the mean of the logits
  // (REFERENCE.md §4); one member is its own ensemble.
  const ensembleCorrect =
    S > 1
      ? ensemble(
          "mean_logits",
          logits.map((z) => z.detach()),
        )
          .argmax(1)
          .eq(p.labels)
          .sum()
          .item()
      : memberCorrect[0];
  return {
    loss: loss.item(),
    ce: ce.item(),
    cot: cot ? cot.item() : 0,
    cotWeight: cot ? w : 0,
    memberCorrect,
    ensembleCorrect,
  };
}

/** Whether `batch` ends an optimiser step: every `gradAccumulation` batches and at the end of the epoch. */
export function stepDue(batch: Batch, lastOfEpoch: boolean, o: StepOptions): boolean {
  return (batch.index + 1) % o.gradAccumulation === 0 || lastOfEpoch;
}

/** An optimiser step every `gradAccumulation` batches and at the end of the epoch. */
export function maybeStep(
  optimizer: Optimizer<{ lr: number }>,
  batch: Batch,
  lastOfEpoch: boolean,
  o: StepOptions,
): boolean {
  const stepped = stepDue(batch, lastOfEpoch, o);
  if (stepped) {
    optimizer.step();
    optimizer.zeroGrad();
  }
  return stepped;
}

/** Runs one batch; call it inside a scope (every tensor it makes is temporary). */
export function coTrainStep(
  members: Members,
  optimizer: Optimizer<{ lr: number }>,
  batch: Batch,
  epoch: number,
  lastOfEpoch: boolean,
  o: StepOptions,
): StepResult {
  const p = prepare(members.split, batch, o);
  const r = lossAndBackward(members.forwardEach(p.inputs), p, epoch, o);
  const stepped = maybeStep(optimizer, batch, lastOfEpoch, o);
  return { ...r, images: batch.labels.length, stepped };
}

/**
 * The same step with the members' forward and backward on worker threads (concurrent.ts).
 * Asynchronous: call it outside any scope; it manages its tensors itself.
 */
export async function coTrainStepConcurrent(
  pool: ConcurrentMembers,
  optimizer: Optimizer<{ lr: number }>,
  batch: Batch,
  epoch: number,
  lastOfEpoch: boolean,
  o: StepOptions,
): Promise<StepResult> {
  const p = scope(() => prepare(pool.split, batch, o));
  const owned = new Set([...p.inputs, p.labels, p.target]);
  try {
    const logits = await pool.forward(p.inputs, true);
    let grads: Tensor[] = [];
    try {
      const r = scope(() => {
        // The loss sees each member's logits as a leaf; its gradient goes back to the workers.
        const z = logits.map((t) => t.detach().requiresGrad_(true));
        const numbers = lossAndBackward(z, p, epoch, o);
        return { numbers, grads: z.map((t) => t.grad!) };
      });
      grads = r.grads;
      await pool.backward(grads);
      const stepped = scope(() => maybeStep(optimizer, batch, lastOfEpoch, o));
      return { ...r.numbers, images: batch.labels.length, stepped };
    } catch (e) {
      await pool.release();
      throw e;
    } finally {
      for (const g of grads) g.dispose();
    }
  } finally {
    for (const t of owned) t.dispose();
  }
}
