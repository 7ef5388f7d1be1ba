// Width search for dividing a network that has no hand-written table: find the member width
// (a multiple of `divisor`) at which S members together cost what the undivided network costs,
// in parameters or in MACs. The reference's tables (REFERENCE.md §1.2) are this rule applied by
// hand (≈ width/√S, then rounded to a "nice" number); `divide` makes it reproducible for any
// family that can be built at an arbitrary width.
import type { Module } from "../nn/module.js";
import { countModule } from "../report/accounting.js";

/** A network family that can be built at any width (see `resnetWidthFactory`). */
export interface WidthFactory {
  /** The undivided (S=1) width. */
  baseWidth: number;
  build(width: number): Module;
  /** Input crop for MAC counting (default 32). */
  crop?: number;
}

export interface DivideOptions {
  /** What the S members together should match: trainable parameters or multiply-accumulates. Default "params". */
  budget?: "params" | "macs";
  /** Member widths are multiples of this. Default 4. */
  divisor?: number;
}

export interface DivideReport {
  split: number;
  budget: "params" | "macs";
  divisor: number;
  /** The chosen member width. */
  width: number;
  /** The undivided network's cost (params or MACs). */
  target: number;
  /** S × one member's cost at `width`. */
  achieved: number;
  /** (achieved − target) / target. */
  relativeError: number;
  /** Every width evaluated and its S-member cost, in the order tried. */
  tried: { width: number; cost: number }[];
}

/**
 * Chooses the member width for S members. Cost grows monotonically with width, so a
 * bisection over multiples of `divisor` finds the two widths around the target; the one
 * closer to it (absolute difference) wins, ties going to the smaller width.
 */
export function divide(factory: WidthFactory, S: number, o: DivideOptions = {}): DivideReport {
  const budget = o.budget ?? "params";
  const divisor = o.divisor ?? 4;
  if (!Number.isInteger(S) || S < 1)
    throw new RangeError(`divide: S must be a positive integer, got ${S}`);
  if (!Number.isInteger(divisor) || divisor < 1)
    throw new RangeError(`divide: divisor must be a positive integer, got ${divisor}`);
  const cache = new Map<number, number>();
  const tried: { width: number; cost: number }[] = [];
  const cost = (width: number): number => {
    const hit = cache.get(width);
    if (hit !== undefined) return hit;
    const m = factory.build(width);
    try {
      const c =
        budget === "params" ? m.numParameters() : countModule(m, { crop: factory.crop ?? 32 }).macs;
      cache.set(width, c);
      tried.push({ width, cost: c * S });
      return c;
    } finally {
      m.dispose();
    }
  };
  const target = cost(factory.baseWidth);
  if (S === 1) return report(factory.baseWidth, target);
  // Smallest k with S·cost(k·divisor) ≥ target, k in [1, ceil(base/divisor)].
  let lo = 1;
  let hi = Math.max(1, Math.ceil(factory.baseWidth / divisor));
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (S * cost(mid * divisor) >= target) hi = mid;
    else lo = mid + 1;
  }
  const above = lo * divisor;
  let best = above;
  if (lo > 1) {
    const below = (lo - 1) * divisor;
    if (Math.abs(S * cost(below) - target) <= Math.abs(S * cost(above) - target)) best = below;
  }
  return report(best, target);

  function report(width: number, targetCost: number): DivideReport {
    const achieved = S * cost(width);
    return {
      split: S,
      budget,
      divisor,
      width,
      target: targetCost,
      achieved,
      relativeError: (achieved - targetCost) / targetCost,
      tried,
    };
  }
}
