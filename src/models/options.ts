// Family-specific overrides a user passes in `extra` (`divco ... --extra dropout=0.2`,
// `create(arch, { extra })`), each checked with one message style. Each family documents which
// keys it reads; the registered defaults are the reference's.
import type { BuildOptions } from "./registry.js";

/** A probability in [0, 1) from `extra[key]`, else `fallback` (the variant's default). */
export function extraProbability(o: BuildOptions, key: string, fallback: number): number;
export function extraProbability(
  o: BuildOptions,
  key: string,
  fallback: number | undefined,
): number | undefined;
export function extraProbability(
  o: BuildOptions,
  key: string,
  fallback: number | undefined,
): number | undefined {
  const p = o.extra[key];
  if (p === undefined) return fallback;
  if (typeof p !== "number" || !(p >= 0 && p < 1)) {
    throw new RangeError(`extra.${key} must be a number in [0, 1), got ${String(p)}`);
  }
  return p;
}

/**
 * A positive integer from `extra[key]` (undefined when absent). The ResNet family reads
 * `width` (CIFAR ResNets: per-member stem/stage width instead of the §1.2 table; CIFAR WRNs:
 * per-member layer1 planes instead of 16·k'; ResNeXts: stem/layer1 planes instead of 64) and
 * `width_per_group` (ResNeXts); they exist for shrunken test fixtures and width experiments.
 */
export function extraPositiveInt(o: BuildOptions, key: string): number | undefined {
  const v = o.extra[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`extra.${key} must be a positive integer, got ${String(v)}`);
  }
  return v;
}
