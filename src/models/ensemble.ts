// The ensemble of a divided model: the one function that combines the members' logits into the
// ensemble's class scores, by one of the rules of REFERENCE.md §4. Members.forward, evaluation,
// the training step's ensemble accuracy and `divco infer` all call it, so "the ensemble" means
// the same numbers everywhere.
import type { Tensor } from "../tensor/tensor.js";
import { stack } from "../tensor/creation.js";
import { logSoftmax, softmax } from "../nn/functional.js";

/** How the members' outputs are combined (REFERENCE.md §4); the reference's default is mean_logits. */
export type EnsembleRule = "mean_logits" | "mean_probs" | "max" | "geometric";

export const ENSEMBLE_RULES: readonly EnsembleRule[] = [
  "mean_logits",
  "mean_probs",
  "max",
  "geometric",
];

/**
 * Combines the members' logits ([N, C] each) into the ensemble's scores [N, C]; the argmax of a
 * row is the ensemble's prediction. The inputs are left alone (the caller still owns them).
 *
 * - mean_logits: the arithmetic mean of the raw logits (the reference's SplitNet default, §4);
 *   computed as the mean of the stacked logits, i.e. their sum in member order divided by S.
 * - mean_probs: the mean of the members' softmax probabilities (`--is_ensembled_after_softmax`).
 * - max: the element-wise max of the probabilities (`--is_max_ensemble` with softmax).
 * - geometric: exp(mean_i log p_i), the normalised geometric mean's ordering; the reference's
 *   test.py takes sqrt(Π_i p_i), which ranks classes identically.
 */
export function ensemble(rule: EnsembleRule, logits: readonly Tensor[]): Tensor {
  if (logits.length === 0) throw new RangeError("ensemble: no member logits to combine");
  const shape = logits[0].shape;
  logits.forEach((z, i) => {
    if (z.shape.length !== 2 || z.shape.join() !== shape.join()) {
      throw new RangeError(
        `ensemble: member ${i}'s logits have shape [${z.shape}], member 0's [${shape}]; every member must give N×C logits for the same batch`,
      );
    }
  });
  if (!ENSEMBLE_RULES.includes(rule)) {
    throw new RangeError(
      `unknown ensemble rule "${rule as string}"; use ${ENSEMBLE_RULES.join(", ")}`,
    );
  }
  const z = stack([...logits], 0); // [S, N, C]
  try {
    return combine(rule, z);
  } finally {
    z.dispose();
  }
}

function combine(rule: EnsembleRule, z: Tensor): Tensor {
  switch (rule) {
    case "mean_logits":
      return z.mean(0);
    case "mean_probs":
      return reduceThenFree(softmax(z, -1), (p) => p.mean(0));
    case "max":
      return reduceThenFree(softmax(z, -1), (p) => p.amax(0));
    case "geometric":
      return reduceThenFree(logSoftmax(z, -1), (lp) => reduceThenFree(lp.mean(0), (m) => m.exp()));
  }
}

/** f(t), then frees t (an intermediate of one rule). */
function reduceThenFree(t: Tensor, f: (t: Tensor) => Tensor): Tensor {
  try {
    return f(t);
  } finally {
    t.dispose();
  }
}
