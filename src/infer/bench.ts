// The latency benchmark behind `divco bench latency`, `npm run bench:infer` and the demo: the
// undivided network (S=1 of the architecture) against its S members in each execution mode,
// at each batch size, all candidates of one batch size timed in interleaved rounds
// (latency.ts). Weights are freshly initialised: latency does not depend on their values.
import { availableParallelism, cpus } from "node:os";
import { create } from "../models/registry.js";
import type { Members } from "../models/members.js";
import type { DatasetKind } from "../data/stats.js";
import { randn } from "../tensor/creation.js";
import { Generator, defaultGeneratorState, setDefaultGeneratorState } from "../tensor/random.js";
import { buildInfo } from "../tensor/runtime.js";
import { startEngine, type Engine, type ExecutionMode } from "./engines.js";
import { summarize, timeInterleaved, type LatencySummary, type TimingOptions } from "./latency.js";
import "../models/index.js";

export interface LatencyBenchOptions {
  arch: string;
  /** S of the divided models (each compared with S=1, the undivided network). */
  splits: readonly number[];
  dataset: DatasetKind;
  batches: readonly number[];
  /** Execution modes of the divided model to measure. */
  modes: readonly ExecutionMode[];
  /** Intra-op threads in all, for every candidate. */
  threads: number;
  /** Input size (default: the architecture's crop: 32 on CIFAR/SVHN, 224 on ImageNet). */
  crop?: number;
  timing?: TimingOptions;
  /** Called after each batch size with its records (progress). */
  onBatch?: (records: LatencyRecord[]) => void;
}

/** One measurement: the fields `npm run bench:infer` prints, so anyone can recompute ratios. */
export interface LatencyRecord {
  arch: string;
  dataset: DatasetKind;
  split: number;
  /** "undivided" for S=1, else the execution mode of the S members. */
  mode: "undivided" | ExecutionMode;
  batch: number;
  /** Intra-op threads in all. */
  threads: number;
  /** How the mode lays the work out. */
  layout: string;
  /** Wall time of one call (one batch), ms. */
  latency_ms_median: number;
  latency_ms_p90: number;
  images_per_s: number;
  samples: number;
}

/** A mode that could not be measured, and why (fusion refused, no CUDA, …). */
export interface SkippedMode {
  mode: ExecutionMode;
  split: number;
  reason: string;
}

/** The machine a benchmark ran on, stated next to its numbers. */
export function machineInfo(): Record<string, unknown> {
  const info = buildInfo();
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    node: process.version,
    torch: info.torchVersion,
    cuda: info.builtWithCuda,
  };
}

/** Median of each candidate per batch size; the ensemble members start once per model. */
export async function benchLatency(
  o: LatencyBenchOptions,
): Promise<{ records: LatencyRecord[]; skipped: SkippedMode[] }> {
  // Building members draws initial weights from the default generator: leave the caller's
  // random sequence as it was.
  const rng = defaultGeneratorState().keep();
  const built: Members[] = [];
  const engines: { mode: "undivided" | ExecutionMode; engine: Engine; split: number }[] = [];
  const skipped: SkippedMode[] = [];
  const records: LatencyRecord[] = [];
  try {
    const crop = o.crop;
    const single = create(o.arch, { split: 1, dataset: o.dataset, crop });
    built.push(single);
    const size = single.options.crop;
    const engineOptions = {
      threads: o.threads,
      device: "cpu",
      memoryFormat: "contiguous" as const,
      inputShape: [3, size, size] as [number, number, number],
    };
    engines.push({
      mode: "undivided",
      split: 1,
      engine: await startEngine("sequential", single, engineOptions),
    });
    for (const split of o.splits) {
      const divided = create(o.arch, { split, dataset: o.dataset, crop });
      built.push(divided);
      for (const mode of o.modes) {
        try {
          engines.push({ mode, split, engine: await startEngine(mode, divided, engineOptions) });
        } catch (e) {
          skipped.push({ mode, split, reason: (e as Error).message });
        }
      }
    }
    for (const batch of o.batches) {
      const x = randn([batch, 3, size, size], { generator: new Generator(batch) });
      try {
        const times = await timeInterleaved(
          engines.map(({ engine }) => async () => {
            for (const z of await engine.run(x)) z.dispose();
          }),
          o.timing,
        );
        const now = engines.map(({ mode, split, engine }, i) =>
          latencyRecord(
            {
              arch: o.arch,
              dataset: o.dataset,
              split,
              mode,
              threads: o.threads,
              layout: engine.layout,
            },
            summarize(times[i], batch),
          ),
        );
        records.push(...now);
        o.onBatch?.(now);
      } finally {
        x.dispose();
      }
    }
  } finally {
    await Promise.all(engines.map(({ engine }) => engine.close()));
    for (const m of built) m.dispose();
    setDefaultGeneratorState(rng);
    rng.dispose();
  }
  return { records, skipped };
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** One measurement as `npm run bench:infer` and `divco bench latency` print it (ms to the µs). */
export function latencyRecord(
  what: Pick<LatencyRecord, "arch" | "dataset" | "split" | "mode" | "threads" | "layout">,
  s: LatencySummary,
): LatencyRecord {
  return {
    ...what,
    batch: s.batch,
    latency_ms_median: round(s.medianMs),
    latency_ms_p90: round(s.p90Ms),
    images_per_s: round(s.imagesPerSecond),
    samples: s.samples,
  };
}

/** Per batch size: the fastest divided mode against the undivided network and against sequential. */
export interface LatencyRatio {
  arch: string;
  split: number;
  batch: number;
  best_mode: string;
  /** best divided mode's median / undivided median (< 1: the divided model is faster). */
  vs_undivided: number;
  /** sequential median / best mode's median (> 1: the mode beats running members in turn). */
  speedup_vs_sequential: number | null;
}

export function latencyRatios(records: readonly LatencyRecord[]): LatencyRatio[] {
  const out: LatencyRatio[] = [];
  const keys = new Set(records.map((r) => `${r.arch}|${r.dataset}|${r.split}|${r.batch}`));
  for (const key of keys) {
    const group = records.filter((r) => `${r.arch}|${r.dataset}|${r.split}|${r.batch}` === key);
    const [arch, dataset, splitText, batchText] = key.split("|");
    if (splitText === "1") continue;
    const undivided = records.find(
      (r) =>
        r.arch === arch &&
        r.dataset === dataset &&
        r.mode === "undivided" &&
        r.batch === Number(batchText),
    );
    const divided = group.filter((r) => r.mode !== "undivided");
    if (!undivided || divided.length === 0) continue;
    const best = divided.reduce((a, b) => (b.latency_ms_median < a.latency_ms_median ? b : a));
    const seq = divided.find((r) => r.mode === "sequential");
    out.push({
      arch,
      split: best.split,
      batch: best.batch,
      best_mode: best.mode,
      vs_undivided: round(best.latency_ms_median / undivided.latency_ms_median),
      speedup_vs_sequential: seq ? round(seq.latency_ms_median / best.latency_ms_median) : null,
    });
  }
  return out;
}

/** The records as a fixed-width table (per-image latency alongside the per-batch figures). */
export function latencyTable(records: readonly LatencyRecord[]): string {
  const head = ["arch", "S", "mode", "batch", "threads", "ms/batch (median)", "p90", "ms/image", "images/s", "layout"]; // prettier-ignore
  const rows = records.map((r) => [
    r.arch,
    String(r.split),
    r.mode,
    String(r.batch),
    String(r.threads),
    r.latency_ms_median.toFixed(2),
    r.latency_ms_p90.toFixed(2),
    (r.latency_ms_median / r.batch).toFixed(3),
    r.images_per_s.toFixed(1),
    r.layout,
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(width[i]))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
