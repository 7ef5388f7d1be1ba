// Latency measurement: repeated calls, warm-up excluded, median and 90th percentile. Candidates
// that are compared with each other (execution modes, the undivided network) are timed in
// interleaved rounds — round r times every candidate once — so a change in the machine's load
// during the measurement affects them alike instead of favouring whichever ran first. Within a
// round, each candidate first gets untimed calls: candidates run with different intra-op
// thread counts, and the first calls after the calling thread's count changed pay for
// re-forming OpenMP's thread team and for the other candidate's idle threads still spinning —
// measured on the 2-vCPU development VM, wide_resnet16_8 at batch 1: the first undivided call
// after concurrent ones took 54–132 ms against 19–27 ms, and the first one or two concurrent
// calls after undivided ones 36–48 ms against 20–23 ms. That is no part of any one mode's
// steady-state latency (a server or an evaluation runs one mode), so the re-warm lasts a
// minimum wall time, not just one call.

export interface TimingOptions {
  /** Untimed calls of each candidate first (allocator, oneDNN primitive caches). Default 2. */
  warmup?: number;
  /** Timed rounds at least (default 5) and at most (default 50). */
  minRounds?: number;
  maxRounds?: number;
  /** Stop after this many milliseconds of timed rounds once minRounds are done. Default 3000. */
  budgetMs?: number;
  /** Untimed calls of a candidate before its timed call in every round: at least this many
   * (default 1)… */
  rewarm?: number;
  /** …and more, up to `maxRewarm` (default 5), until this many milliseconds have passed
   * (default 100; 0 when `rewarm` is given alone). */
  rewarmMs?: number;
  maxRewarm?: number;
}

export interface LatencySummary {
  /** Images per call. */
  batch: number;
  /** Timed calls. */
  samples: number;
  /** Wall time of one call (one batch), milliseconds. */
  medianMs: number;
  p90Ms: number;
  minMs: number;
  /** batch / median call time. */
  imagesPerSecond: number;
}

/** The q-quantile of sorted values (nearest rank, as a latency percentile is usually read). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Median, p90 and throughput of per-call times (ms) of calls of `batch` images. */
export function summarize(samplesMs: readonly number[], batch: number): LatencySummary {
  const s = [...samplesMs].sort((a, b) => a - b);
  const medianMs =
    s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return {
    batch,
    samples: s.length,
    medianMs,
    p90Ms: quantile(s, 0.9),
    minMs: s[0],
    imagesPerSecond: (1000 * batch) / medianMs,
  };
}

/**
 * Times each candidate (an async call) in interleaved rounds after `warmup` untimed calls each;
 * returns each candidate's per-call times in milliseconds.
 */
export async function timeInterleaved(
  candidates: readonly (() => Promise<unknown>)[],
  o: TimingOptions = {},
): Promise<number[][]> {
  const warmup = o.warmup ?? 2;
  const minRounds = o.minRounds ?? 5;
  const maxRounds = Math.max(minRounds, o.maxRounds ?? 50);
  const budget = o.budgetMs ?? 3000;
  const rewarm = o.rewarm ?? 1;
  const rewarmMs = o.rewarmMs ?? (o.rewarm === undefined ? 100 : 0);
  const maxRewarm = Math.max(rewarm, o.maxRewarm ?? 5);
  for (let i = 0; i < warmup; i++) for (const run of candidates) await run();
  const times = candidates.map(() => [] as number[]);
  const start = performance.now();
  for (let r = 0; r < maxRounds; r++) {
    if (r >= minRounds && performance.now() - start > budget) break;
    for (let c = 0; c < candidates.length; c++) {
      const w0 = performance.now();
      for (let i = 0; i < maxRewarm && (i < rewarm || performance.now() - w0 < rewarmMs); i++)
        await candidates[c]();
      const t0 = performance.now();
      await candidates[c]();
      times[c].push(performance.now() - t0);
    }
  }
  return times;
}
