// Batch-level label operations: mixup parameters shared by all views and
// (label-smoothed, mixed) soft targets.
import type { Rng } from "../prng.js";
import { DataError } from "../errors.js";

export interface MixupParams {
  /** λ ~ Beta(α, α): weight of the original sample. */
  lambda: number;
  /** Partner of sample i is sample perm[i]. */
  perm: Int32Array;
}

/**
 * One λ and one permutation per batch (REFERENCE.md §3.1, §10.6): all S views
 * of a batch use the same pair, otherwise the co-training loss would compare
 * members on differently mixed images.
 */
export function sampleMixup(rng: Rng, batchSize: number, alpha: number): MixupParams {
  if (!(alpha > 0)) throw new DataError("argument", `mixup alpha must be > 0, got ${alpha}`);
  const lambda = rng.beta(alpha, alpha);
  return { lambda, perm: rng.permutation(batchSize) };
}

/**
 * x ← λ·x + (1−λ)·x[perm] in place, for one view laid out as N samples of
 * `sampleSize` floats.
 */
export function applyMixup(view: Float32Array, sampleSize: number, mix: MixupParams): void {
  const n = mix.perm.length;
  const src = view.slice(0, n * sampleSize); // partners must be read before they are overwritten
  const lam = mix.lambda;
  const one = 1 - lam;
  for (let i = 0; i < n; i++) {
    const a = i * sampleSize;
    const b = mix.perm[i] * sampleSize;
    for (let k = 0; k < sampleSize; k++) view[a + k] = lam * src[a + k] + one * src[b + k];
  }
}

/**
 * Soft targets N×C. Label smoothing is the reference's variant
 * (REFERENCE.md §6.3, §10.19): onehot·(1−ε) + ε/C, i.e. ε/C on every class
 * including the true one, which gets 1−ε+ε/C. With mixup the targets mix
 * with the same λ and permutation: λ·t(y) + (1−λ)·t(y[perm]).
 */
export function softTargets(
  labels: Int32Array,
  numClasses: number,
  smoothing = 0,
  mixup?: MixupParams,
): Float32Array {
  if (!(smoothing >= 0 && smoothing < 1))
    throw new DataError("argument", `label smoothing must be in [0, 1), got ${smoothing}`);
  const n = labels.length;
  const out = new Float32Array(n * numClasses);
  const base = smoothing / numClasses;
  const hit = 1 - smoothing;
  const lam = mixup ? mixup.lambda : 1;
  for (let i = 0; i < n; i++) {
    const row = out.subarray(i * numClasses, (i + 1) * numClasses);
    row.fill(base);
    const y = labels[i];
    if (!(y >= 0 && y < numClasses))
      throw new DataError("argument", `label ${y} of sample ${i} outside 0..${numClasses - 1}`);
    row[y] += lam * hit;
    if (mixup) row[labels[mixup.perm[i]]] += (1 - lam) * hit;
  }
  return out;
}
