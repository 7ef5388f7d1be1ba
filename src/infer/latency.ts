// Timing for latency measurements: warm-up calls are excluded, and candidates of one measurement
// that are compared with each other (execution modes, the undivided network) are timed in
// interleaved rounds — round r times every candidate once — so a change in the machine's load
// during the measurement affects them alike instead of favouring whichever ran first. Within a
// round, each candidate first gets untimed calls: candidates run with different intra-op
// thread counts, and the first calls after the calling thread's count changed are slow — on the
// 2-vCPU development VM, resnet29 at batch 1 took 120–300 ms for the first one or two calls
// after a switch from one thread to two against 2.5–4 ms steady, with nothing but
// set_num_threads in between (the idle vCPU seems to be descheduled by the host and is slow to
// come back). That is no part of any one mode's steady-state latency (a server or an evaluation
// runs one mode), so the re-warm goes on until a call is back near the candidate's fastest.

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
  /** …and more, up to `maxRewarm` (default 8), while fewer than `rewarmMs` milliseconds have
   * passed (default 100; 0 when `rewarm` is given alone) or the last call took more than
   * `settle` (default 2) times the candidate's fastest call so far. */
  rewarmMs?: number;
  maxRewarm?: number;
  settle?: number;
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
 * Times each candidate (an async call) in interleaved rounds after `warmup` untimed calls each
 * (in a row); returns each candidate's per-call times in milliseconds.
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
  const maxRewarm = Math.max(rewarm, o.maxRewarm ?? 8);
  const settle = o.settle ?? (o.rewarm === undefined ? 2 : Infinity);
  const fastest = candidates.map(() => Infinity);
  /** One call of candidate c, its duration in ms (and the fastest so far updated). */
  const call = async (c: number): Promise<number> => {
    const t0 = performance.now();
    await candidates[c]();
    const ms = performance.now() - t0;
    fastest[c] = Math.min(fastest[c], ms);
    return ms;
  };
  // Each candidate's warm-up calls in a row, so its fastest call is a steady-state one.
  for (let c = 0; c < candidates.length; c++) for (let i = 0; i < warmup; i++) await call(c);
  const times = candidates.map(() => [] as number[]);
  const start = performance.now();
  for (let r = 0; r < maxRounds; r++) {
    if (r >= minRounds && performance.now() - start > budget) break;
    for (let c = 0; c < candidates.length; c++) {
      const w0 = performance.now();
      let last = 0;
      for (
        let i = 0;
        i < maxRewarm &&
        (i < rewarm || performance.now() - w0 < rewarmMs || last > settle * fastest[c]);
        i++
      )
        last = await call(c);
      times[c].push(await call(c));
    }
  }
  return times;
}
