// `npm run bench:infer`: the efficiency half of divide-and-co-train (REFERENCE.md §0, §5): the
// undivided network against its S members in every execution mode (sequential, concurrent
// worker threads, fused), per batch size, on this machine's CPU. The fixed set:
//   resnet29 and wide_resnet16_8 (S = 1, 2, 4) on 32×32 at batch 1, 16 and 100;
//   resnet50 and wide_resnet50_2 (S = 1, 2) on 224×224 at batch 1 and 16.
// All candidates of one (architecture, batch) are timed in interleaved rounds, warm-up
// excluded (src/infer/latency.ts). Prints a table on stderr and one JSON object on stdout:
// {machine, threads, results: [{arch, dataset, split, mode, batch, threads, latency_ms_median,
// latency_ms_p90, images_per_s, ...}], ratios: [...], skipped: [...]}; mode is "undivided" for
// S=1, and latencies are per call (one batch), so anyone can recompute the ratios.
//
// Options: --threads T (default: all cores) --only ARCH[,ARCH] --budget-ms MS --min-rounds N
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import {
  benchLatency,
  latencyRatios,
  latencyTable,
  machineInfo,
  type LatencyRecord,
  type SkippedMode,
} from "../src/infer/bench.js";
import { CPU_MODES } from "../src/infer/engines.js";
import type { DatasetKind } from "../src/data/stats.js";

const { values: a } = parseArgs({
  options: {
    threads: { type: "string", default: String(availableParallelism()) },
    only: { type: "string" },
    "budget-ms": { type: "string", default: "4000" },
    "min-rounds": { type: "string", default: "5" },
  },
});
const threads = Number(a.threads);
const minRounds = Number(a["min-rounds"]);

const SET: { arch: string; dataset: DatasetKind; splits: number[]; batches: number[] }[] = [
  { arch: "resnet29", dataset: "cifar100", splits: [2, 4], batches: [1, 16, 100] },
  { arch: "wide_resnet16_8", dataset: "cifar100", splits: [2, 4], batches: [1, 16, 100] },
  { arch: "resnet50", dataset: "imagenet", splits: [2], batches: [1, 16] },
  { arch: "wide_resnet50_2", dataset: "imagenet", splits: [2], batches: [1, 16] },
];
const only = a.only?.split(",");

const results: LatencyRecord[] = [];
const skipped: (SkippedMode & { arch: string })[] = [];
for (const item of SET) {
  if (only && !only.includes(item.arch)) continue;
  process.stderr.write(`${item.arch}: S=1 vs S=${item.splits.join(",")} …\n`);
  const r = await benchLatency({
    ...item,
    modes: CPU_MODES,
    threads,
    timing: {
      warmup: item.dataset === "imagenet" ? 1 : 3,
      // A 224×224 batch of 16 takes seconds per call: fewer rounds there.
      minRounds: item.dataset === "imagenet" ? Math.min(3, minRounds) : minRounds,
      budgetMs: Number(a["budget-ms"]),
    },
    onBatch: (records) => process.stderr.write(latencyTable(records) + "\n"),
  });
  results.push(...r.records);
  skipped.push(...r.skipped.map((s) => ({ ...s, arch: item.arch })));
}
const ratios = latencyRatios(results);
process.stderr.write(`\n${latencyTable(results)}\n\n`);
for (const r of ratios)
  process.stderr.write(
    `${r.arch} S=${r.split} batch ${r.batch}: best ${r.best_mode} ${r.vs_undivided}× the undivided latency` +
      (r.speedup_vs_sequential === null
        ? "\n"
        : `, ${r.speedup_vs_sequential}× sequential's speed\n`),
  );
console.log(JSON.stringify({ machine: machineInfo(), threads, results, ratios, skipped }));
