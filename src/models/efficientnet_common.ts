// EfficientNet tables shared by the reference's two implementations (REFERENCE.md §1.2):
// the B0 block table per S (stem, stage output channels, head, rounding divisor — the widths
// are hand-divided, the rest of the table is unchanged) and the Bx compound coefficients.

/** One stage of the B0 table: expand ratio t, output channels c, repeats n, kernel k, stride s. */
export interface StageSpec {
  t: number;
  c: number;
  n: number;
  k: number;
  s: number;
}

export interface SplitTable {
  stem: number;
  stages: StageSpec[];
  head: number;
  divisor: number;
}

/** What both implementations are built from: a per-S table scaled by one variant's coefficients. */
export interface EfficientNetSpec extends SplitTable {
  /** Width coefficient (channels × width, rounded to the divisor). */
  width: number;
  /** Depth coefficient (repeats × depth, rounded up). */
  depth: number;
  /** FC dropout of ONE member (already divided by √S, REFERENCE.md §2). */
  dropout: number;
  numClasses: number;
}

// REFERENCE.md §1.2 EfficientNet table: expand ratios, repeats, kernels and strides are the
// same for every S; only the channels, stem, head and divisor change.
const T = [1, 6, 6, 6, 6, 6, 6];
const N = [1, 2, 2, 3, 3, 4, 1];
const K = [3, 3, 5, 3, 5, 5, 3];
const STRIDES = [1, 2, 2, 2, 1, 2, 1];

function table(stem: number, channels: number[], head: number, divisor: number): SplitTable {
  return {
    stem,
    head,
    divisor,
    stages: channels.map((c, i) => ({ t: T[i], c, n: N[i], k: K[i], s: STRIDES[i] })),
  };
}

/** Per-S B0 tables (REFERENCE.md §1.2). */
export const EFFICIENTNET_TABLES: Record<number, SplitTable> = {
  1: table(32, [16, 24, 40, 80, 112, 192, 320], 1280, 8),
  2: table(24, [12, 16, 24, 56, 80, 136, 224], 920, 4),
  4: table(16, [12, 16, 20, 40, 56, 96, 160], 640, 4),
};

export interface Coefficients {
  width: number;
  depth: number;
  resolution: number;
  dropout: number;
}

/**
 * Compound scaling (width, depth, resolution, dropout) of B0–B8 and L2 (REFERENCE.md §1.2; the
 * reference's `efficientnet_params`, whose B8 and L2 rows are those of the AdvProp and Noisy
 * Student papers).
 */
export const EFFICIENTNET_COEFFICIENTS: Record<string, Coefficients> = {
  b0: { width: 1.0, depth: 1.0, resolution: 224, dropout: 0.2 },
  b1: { width: 1.0, depth: 1.1, resolution: 240, dropout: 0.2 },
  b2: { width: 1.1, depth: 1.2, resolution: 260, dropout: 0.3 },
  b3: { width: 1.2, depth: 1.4, resolution: 300, dropout: 0.3 },
  b4: { width: 1.4, depth: 1.8, resolution: 380, dropout: 0.4 },
  b5: { width: 1.6, depth: 2.2, resolution: 456, dropout: 0.4 },
  b6: { width: 1.8, depth: 2.6, resolution: 528, dropout: 0.5 },
  b7: { width: 2.0, depth: 3.1, resolution: 600, dropout: 0.5 },
  b8: { width: 2.2, depth: 3.6, resolution: 672, dropout: 0.5 },
  l2: { width: 4.3, depth: 5.3, resolution: 800, dropout: 0.5 },
};

/**
 * The TensorFlow rounding both implementations use: the nearest multiple of `divisor` (at least
 * `divisor`), bumped up one step if that loses more than 10 %.
 */
export function makeDivisible(value: number, divisor: number): number {
  let v = Math.max(divisor, Math.floor(Math.trunc(value + divisor / 2) / divisor) * divisor);
  if (v < 0.9 * value) v += divisor;
  return v;
}

/** Repeats scaled by the depth coefficient, rounded up. */
export function roundRepeats(n: number, depth: number): number {
  return depth === 1.0 ? n : Math.ceil(depth * n);
}

/** BN settings of both implementations: eps 1e-3, and TensorFlow's momentum 0.99 as PyTorch's 1 − 0.99. */
export const EFFICIENTNET_BN = { eps: 1e-3, momentum: 1 - 0.99 };
