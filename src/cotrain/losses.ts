// The co-training objective (REFERENCE.md §3.2):
//   L = Σ_i CE(z_i, y) + w(epoch) · cot(z_1..z_S)
// CE is summed over members (not averaged), mixup- and label-smoothing-aware through soft
// targets; the co-training term is the generalised Jensen–Shannon divergence or the
// detached pairwise KL (`kl_separate`).
import type { Tensor } from "../tensor/tensor.js";
import { stack } from "../tensor/creation.js";
import { crossEntropy, logSoftmax } from "../nn/functional.js";
// The ensemble rule moved to models/ensemble.ts with the one ensemble function; this re-export
// serves importers outside cotrain/ (src/cli/eval.ts) until they import it from there.

export type CotLoss = "js_divergence" | "kl_separate";

/**
 * Σ_i CE(z_i, target). `target` is class indices (i64 [N]) or a soft target distribution
 * ([N, C], rows summing to 1): soft targets express mixup (λ·onehot(y) + (1−λ)·onehot(y[perm]))
 * and label smoothing in one tensor, which equals the reference's λ-weighted pair of CEs.
 */
export function sumCrossEntropy(logits: Tensor[], target: Tensor): Tensor {
  let total: Tensor | null = null;
  for (const z of logits) {
    const ce = crossEntropy(z, target);
    if (total === null) total = ce;
    else {
      const next: Tensor = total.add(ce);
      total.dispose();
      ce.dispose();
      total = next;
    }
  }
  if (total === null) throw new RangeError("sumCrossEntropy: no member outputs");
  return total;
}

/**
 * Generalised Jensen–Shannon divergence of the members' softmax outputs, averaged over the
 * batch: H(p̄) − mean_i H(p_i), with p̄ the mean of the p_i (REFERENCE.md §3.2).
 *
 * Computed in fp32 whatever the logits' dtype. The reference takes log(p̄) directly, which is
 * −∞ (and 0·log 0 = NaN) when a probability underflows to exactly 0 (§10.4). Here log p̄ comes
 * from the members' log-softmax: log p̄ = logsumexp_i(log p_i) − log S, finite in value and in
 * gradient. (xlogy would fix the value but not the gradient: d(x log x)/dx = log x + 1.)
 * Gradients flow into every member through p̄ and the p_i (no detach).
 */
export function jsDivergence(logits: Tensor[]): Tensor {
  const z = stack(
    logits.map((t) => (t.dtype === "f32" ? t : t.to("f32"))),
    0,
  ); // [S, N, C]
  const logP = logSoftmax(z, -1);
  const p = logP.exp();
  const lse = logP.logsumexp(0); // [N, C]
  const logPMean = lse.sub(Math.log(logits.length));
  const pMean = logPMean.exp();
  const hMean = pMean.mul(logPMean).sum(-1).mean().neg();
  const hSep = p.mul(logP).sum(-1).mean().neg();
  const js = hMean.sub(hSep);
  for (const t of [z, logP, p, lse, logPMean, pMean, hMean, hSep]) t.dispose();
  return js;
}

/**
 * Pairwise KL distillation (the reference's `kl_seperate`): for every ordered pair i ≠ j,
 * KL(softmax(z_j).detach() ‖ softmax(z_i)) summed over classes and averaged over the batch,
 * summed over all pairs and divided by S − 1.
 */
export function klSeparate(logits: Tensor[]): Tensor {
  const S = logits.length;
  const logPs = logits.map((z) => logSoftmax(z.dtype === "f32" ? z : z.to("f32"), -1));
  const targets = logPs.map((l) => l.detach());
  const probs = targets.map((l) => l.exp());
  let total: Tensor | null = null;
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      if (i === j) continue;
      // Σ_c p_j (log p_j − log p_i), with log p_j from log_softmax: finite even where p_j underflows.
      const diff = targets[j].sub(logPs[i]);
      const kl = probs[j].mul(diff).sum(-1).mean();
      diff.dispose();
      if (total === null) total = kl;
      else {
        const next: Tensor = total.add(kl);
        total.dispose();
        kl.dispose();
        total = next;
      }
    }
  }
  for (const t of [...logPs, ...targets, ...probs]) t.dispose();
  const out = total!.div(S - 1);
  total!.dispose();
  return out;
}

export function coTrainingLoss(kind: CotLoss, logits: Tensor[]): Tensor {
  if (logits.length < 2) throw new RangeError("co-training loss needs at least two members");
  if (kind === "js_divergence") return jsDivergence(logits);
  if (kind === "kl_separate") return klSeparate(logits);
  throw new RangeError(
    `unknown co-training loss "${kind as string}"; use js_divergence or kl_separate`,
  );
}

/**
 * w(epoch): the co-training weight, warmed up linearly per whole epoch with a floor of 0.005
 * (REFERENCE.md §3.2, §10.5): max(w·epoch/warmup, 0.005) while epoch < warmup, then w.
 */
export function coTrainingWeight(epoch: number, weight: number, warmupEpochs: number): number {
  if (warmupEpochs > 0 && epoch < warmupEpochs)
    return Math.max((weight * Math.floor(epoch)) / warmupEpochs, 0.005);
  return weight;
}
