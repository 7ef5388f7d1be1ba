// Reading the latency measurements `divco bench latency` and `npm run bench:infer` write, for the
// report's accuracy-against-latency chart. A file is one JSON object whose `results` array has one
// entry per measurement: arch, dataset, split (S), mode ("undivided" for S=1, else the execution
// mode: sequential, concurrent, fused, ...), batch, threads, latency_ms_median and latency_ms_p90
// (per batch) and images_per_s. Other keys (the machine, the build) are allowed and ignored.
import { readFileSync } from "node:fs";

export interface LatencyEntry {
  arch: string;
  dataset: string;
  split: number;
  mode: string;
  batch: number;
  threads: number;
  latencyMsMedian: number;
  latencyMsP90: number;
  imagesPerSecond: number;
  /** The file it was read from. */
  file: string;
}

const NUMBER_KEYS = [
  "split",
  "batch",
  "threads",
  "latency_ms_median",
  "latency_ms_p90",
  "images_per_s",
] as const;
const STRING_KEYS = ["arch", "dataset", "mode"] as const;

/** The measurements of one latency file; anything malformed throws, naming the file and entry. */
export function readLatencyFile(file: string): LatencyEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(
      `--latency ${file}: cannot read it as JSON (${(e as Error).message}); give the output of divco bench latency --json`,
    );
  }
  return latencyEntries(doc, file);
}

/**
 * The measurements of a latency document already parsed (what `readLatencyFile` reads, or what
 * `divco demo` measured); `file` names it in errors and in each entry.
 */
export function latencyEntries(doc: unknown, file: string): LatencyEntry[] {
  const results = (doc as { results?: unknown } | null)?.results;
  if (!Array.isArray(results))
    throw new Error(
      `--latency ${file}: no "results" array (expected the JSON that divco bench latency writes)`,
    );
  return results.map((r: unknown, i) => {
    const where = `--latency ${file}: results[${i}]`;
    if (r === null || typeof r !== "object") throw new Error(`${where} is not an object`);
    const o = r as Record<string, unknown>;
    for (const k of STRING_KEYS)
      if (typeof o[k] !== "string" || o[k] === "")
        throw new Error(`${where}: "${k}" must be a non-empty string`);
    for (const k of NUMBER_KEYS)
      if (typeof o[k] !== "number" || !Number.isFinite(o[k]))
        throw new Error(`${where}: "${k}" must be a finite number, got ${JSON.stringify(o[k])}`);
    const split = o.split as number;
    if (!Number.isInteger(split) || split < 1)
      throw new Error(`${where}: "split" must be a positive integer, got ${split}`);
    if ((split === 1) !== (o.mode === "undivided"))
      throw new Error(
        `${where}: mode "${o.mode}" with split ${split} (S=1 is mode "undivided", and only S=1 is)`,
      );
    return {
      arch: o.arch as string,
      dataset: o.dataset as string,
      split,
      mode: o.mode as string,
      batch: o.batch as number,
      threads: o.threads as number,
      latencyMsMedian: o.latency_ms_median as number,
      latencyMsP90: o.latency_ms_p90 as number,
      imagesPerSecond: o.images_per_s as number,
      file,
    };
  });
}

/** The latency the report plots for one (arch, dataset, S): the fastest mode at one batch size. */
export interface LatencyPoint {
  arch: string;
  dataset: string;
  split: number;
  batch: number;
  /** The mode that was fastest (for S=1, "undivided"). */
  mode: string;
  threads: number;
  /** Median latency of one batch. */
  latencyMsMedian: number;
  latencyMsP90: number;
  /** Median latency divided by the batch size. */
  msPerImage: number;
}

/**
 * Per (arch, dataset, S) the measurement with the lowest median latency at `batch` — for S ≥ 2
 * that is the best execution mode the divided model has, which is what a user deploying it would
 * choose. Measurements at other batch sizes are ignored.
 */
export function bestLatencies(entries: readonly LatencyEntry[], batch: number): LatencyPoint[] {
  const best = new Map<string, LatencyEntry>();
  for (const e of entries) {
    if (e.batch !== batch) continue;
    const k = `${e.arch}\u0000${e.dataset}\u0000${e.split}`;
    const cur = best.get(k);
    if (!cur || e.latencyMsMedian < cur.latencyMsMedian) best.set(k, e);
  }
  return [...best.values()].map((e) => ({
    arch: e.arch,
    dataset: e.dataset,
    split: e.split,
    batch: e.batch,
    mode: e.mode,
    threads: e.threads,
    latencyMsMedian: e.latencyMsMedian,
    latencyMsP90: e.latencyMsP90,
    msPerImage: e.latencyMsMedian / e.batch,
  }));
}
