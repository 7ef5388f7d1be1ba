// Weight-decay parameter groups (REFERENCE.md §6.1, §10.8) and the decay division of §2.
import type { Module } from "../nn/module.js";
import { BatchNorm2d } from "../nn/layers/batchnorm.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * - "reference": any parameter whose dotted name contains "bias" or "norm" gets no decay
 *   (so BN γ named bn1.weight DOES get decay in ResNet builds, exactly as the official code).
 * - "no_norm_bias": no decay on any normalisation-layer parameter or any bias, by module type.
 * - "all": decay on everything (the reference's --is_wd_all 1).
 */
export type DecayGrouping = "reference" | "no_norm_bias" | "all";

export interface DecayGroups {
  decay: Tensor[];
  noDecay: Tensor[];
  /** Names in each group, for the run's resolved config and for tests. */
  decayNames: string[];
  noDecayNames: string[];
}

export function weightDecayGroups(model: Module, grouping: DecayGrouping): DecayGroups {
  const out: DecayGroups = { decay: [], noDecay: [], decayNames: [], noDecayNames: [] };
  const normParams = new Set<Tensor>();
  if (grouping === "no_norm_bias") {
    for (const [, m] of model.namedModules())
      if (m instanceof BatchNorm2d) for (const p of m.parameters()) normParams.add(p);
  }
  for (const [name, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    let exempt: boolean;
    if (grouping === "reference") exempt = name.includes("bias") || name.includes("norm");
    else if (grouping === "no_norm_bias") exempt = normParams.has(p) || name.endsWith("bias");
    else if (grouping === "all") exempt = false;
    else
      throw new RangeError(
        `unknown weight-decay grouping "${grouping as string}"; use reference, no_norm_bias or all`,
      );
    (exempt ? out.noDecay : out.decay).push(p);
    (exempt ? out.noDecayNames : out.decayNames).push(name);
  }
  return out;
}

/** wd·exp(1/S − 1): the reference's Eq. (6) decay division (REFERENCE.md §2). */
export function dividedWeightDecay(wd: number, split: number): number {
  return split > 1 ? wd * Math.exp(1 / split - 1) : wd;
}
