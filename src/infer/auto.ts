// The "auto" execution mode: which mode is fastest depends on the model, the batch size and the
// machine (small convolutions scale poorly over intra-op threads, so batch 1 favours running
// members side by side; large batches keep every core busy either way). So measure: start each
// candidate mode, time a few interleaved calls at the expected batch size, keep the fastest.
import type { Members } from "../models/members.js";
import { randn } from "../tensor/creation.js";
import { Generator } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";
import { startEngine, type Engine, type EngineOptions, type ExecutionMode } from "./engines.js";
import { summarize, timeInterleaved, type TimingOptions } from "./latency.js";

export interface AutoCandidate {
  mode: ExecutionMode;
  /** The engine's layout, when it started. */
  layout?: string;
  /** Median time of one call at the measured batch, ms. */
  medianMs?: number;
  /** Why the mode could not run (fusion refused, no CUDA, …). */
  error?: string;
}

/** What "auto" measured and picked. */
export interface AutoChoice {
  mode: ExecutionMode;
  batch: number;
  threads: number;
  candidates: AutoCandidate[];
}

/** The modes worth trying for this model and machine. */
export function autoCandidates(members: Members, o: EngineOptions): ExecutionMode[] {
  if (members.split === 1) return ["sequential"];
  if (o.device.startsWith("cuda")) return ["sequential", "fused", "devices"];
  // Concurrent members need a core each: with one thread and no explicit lanes they run in turn.
  return o.threads > 1 || (o.lanes ?? 1) > 1
    ? ["sequential", "concurrent", "fused"]
    : ["sequential", "fused"];
}

/**
 * Starts every candidate mode, times them at `batch` images of o.inputShape, closes all but
 * the fastest and returns it with the measurements.
 */
export async function startFastest(
  members: Members,
  o: EngineOptions & { batch: number; candidates?: ExecutionMode[]; timing?: TimingOptions },
): Promise<{ engine: Engine; choice: AutoChoice }> {
  const modes = o.candidates ?? autoCandidates(members, o);
  const started: Engine[] = [];
  const candidates: AutoCandidate[] = [];
  for (const mode of modes) {
    try {
      const e = await startEngine(mode, members, o);
      started.push(e);
      candidates.push({ mode, layout: e.layout });
    } catch (err) {
      candidates.push({ mode, error: (err as Error).message });
    }
  }
  if (started.length === 0)
    throw new Error(
      `auto: no execution mode could start (${candidates.map((c) => `${c.mode}: ${c.error}`).join("; ")})`,
    );
  // A private generator: measuring must not move the caller's random sequence.
  const x = randn([o.batch, ...o.inputShape], {
    generator: new Generator(0),
    device: o.device as Tensor["device"],
  });
  let best = 0;
  try {
    const times = await timeInterleaved(
      started.map((e) => async () => {
        for (const z of await e.run(x)) z.dispose();
      }),
      { warmup: 1, minRounds: 3, maxRounds: 20, budgetMs: 1500, ...o.timing },
    );
    const medians = times.map((t) => summarize(t, o.batch).medianMs);
    medians.forEach((m, i) => {
      candidates.find((c) => c.mode === started[i].mode)!.medianMs = m;
      if (m < medians[best]) best = i;
    });
  } catch (err) {
    await Promise.all(started.map((e) => e.close()));
    throw err;
  } finally {
    x.dispose();
  }
  await Promise.all(started.filter((_, i) => i !== best).map((e) => e.close()));
  const engine = started[best];
  return {
    engine,
    choice: { mode: engine.mode, batch: o.batch, threads: o.threads, candidates },
  };
}
