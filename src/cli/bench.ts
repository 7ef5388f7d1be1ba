// `divco bench latency`: the undivided network (S=1 of an architecture) against its S members in
// every execution mode, per batch size: median and p90 latency, images/s, threads stated, the
// candidates timed in interleaved rounds (src/infer/latency.ts). Prints a table and one JSON
// object (--json: only the JSON).
// Exit codes: 0 ok, 1 a measurement failed, 2 usage error.
import { availableParallelism } from "node:os";
import {
  defineCommand,
  intFlag,
  runCommand,
  stdio,
  UsageError,
  type Out,
  type ValuesOf,
} from "./args.js";
import { defaultDataset } from "./arch_flags.js";
import { resolveArch, ArchError, type DatasetKind } from "../models/registry.js";
import { CPU_MODES, EXECUTION_MODES, type ExecutionMode } from "../infer/engines.js";
import { benchLatency, latencyRatios, latencyTable, machineInfo } from "../infer/bench.js";
import "../models/index.js";

export const BENCH = defineCommand({
  name: "bench",
  summary: "latency of the undivided network vs its S members in every execution mode",
  usage: ["latency --arch NAME --split S[,S...] [--dataset D] [--batch 1,16,100] [--mode all]"],
  description: `latency: times the undivided network (S=1 of the architecture) and its S members in each
execution mode (sequential, concurrent, fused; all = those three on a CPU) at each batch size.
Warm-up calls are excluded; the candidates of one batch size are timed in interleaved rounds so
load changes affect them alike. Per call: median and p90 latency (ms per batch), ms per image,
images/s. Weights are freshly initialised (latency does not depend on them).`,
  positionals: [
    {
      name: "WHAT",
      description: "what to benchmark: latency",
      required: true,
      choices: ["latency"],
      noun: "benchmark",
    },
  ],
  flags: {
    arch: {
      type: "string",
      value: "NAME",
      required: true,
      description: "architecture (divco summary --list)",
    },
    split: {
      type: "string",
      value: "S",
      required: true,
      description: "members of the divided model; a comma list measures several",
    },
    dataset: {
      type: "string",
      value: "D",
      defaultText: "cifar100 for CIFAR architectures, else imagenet",
      description: "cifar10, cifar100, svhn or imagenet (sets classes and input size)",
    },
    batch: {
      type: "string",
      value: "LIST",
      default: "1,16,100",
      description: "batch sizes, comma-separated",
    },
    mode: {
      type: "string",
      value: "LIST",
      default: "all",
      description: `execution modes of the divided model: all (= ${CPU_MODES.join(", ")}) or a list of ${EXECUTION_MODES.join(", ")}`,
    },
    threads: {
      type: "string",
      value: "N",
      defaultText: "all cores",
      description: "intra-op threads in all, for every candidate",
    },
    crop: {
      type: "string",
      value: "PX",
      defaultText: "the architecture's (32 CIFAR, 224 ImageNet)",
      description: "input size",
    },
    "min-rounds": {
      type: "string",
      value: "N",
      default: "5",
      description: "timed calls of each candidate at least",
    },
    "budget-ms": {
      type: "string",
      value: "MS",
      default: "3000",
      description: "stop timing a batch size after this long (once min-rounds are done)",
    },
    warmup: {
      type: "string",
      value: "N",
      default: "2",
      description: "untimed calls of each candidate first",
    },
    json: { type: "boolean", description: "print only the JSON object" },
  },
  notes: "Exit codes: 0 ok, 1 a measurement failed, 2 usage error.",
});

function intList(flag: string, raw: string): number[] {
  const xs = raw.split(",").map((s) => intFlag(flag, s.trim()));
  return [...new Set(xs)];
}

function modeList(raw: string): ExecutionMode[] {
  if (raw === "all") return [...CPU_MODES];
  const modes = raw.split(",").map((s) => s.trim());
  for (const m of modes)
    if (!(EXECUTION_MODES as readonly string[]).includes(m))
      throw new UsageError(`--mode: unknown mode "${m}" (all, ${EXECUTION_MODES.join(", ")})`);
  return modes as ExecutionMode[];
}

export async function runBench(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(BENCH, argv, out, (args) => bench(args.values, out), {
    usageErrors: [ArchError],
  });
}

async function bench(values: ValuesOf<typeof BENCH>, out: Out): Promise<number> {
  const entry = resolveArch(values.arch);
  const dataset = (values.dataset ?? defaultDataset(entry)) as DatasetKind;
  const splits = intList("split", values.split).filter((s) => s !== 1);
  if (splits.length === 0)
    throw new UsageError("--split: give S ≥ 2 (S=1, the undivided network, is always measured)");
  for (const s of [1, ...splits]) resolveArch(values.arch, { split: s, dataset });
  const threads =
    values.threads === undefined ? availableParallelism() : intFlag("threads", values.threads);
  const batches = intList("batch", values.batch);
  const modes = modeList(values.mode);
  const crop = values.crop === undefined ? undefined : intFlag("crop", values.crop);
  const timing = {
    minRounds: intFlag("min-rounds", values["min-rounds"]),
    budgetMs: intFlag("budget-ms", values["budget-ms"], 0),
    warmup: intFlag("warmup", values.warmup, 0),
  };
  if (!values.json)
    out.log(
      `divco bench latency: ${values.arch} on ${dataset}, S=1 vs S=${splits.join(",")}, modes ${modes.join(", ")}, batches ${batches.join(",")}, ${threads} thread(s)`,
    );
  let result;
  try {
    result = await benchLatency({
      arch: values.arch,
      splits,
      dataset,
      batches,
      modes,
      threads,
      crop,
      timing,
    });
  } catch (e) {
    out.err(`divco bench: ${(e as Error).message}`);
    return 1;
  }
  const doc = {
    benchmark: "latency",
    machine: machineInfo(),
    threads,
    results: result.records,
    ratios: latencyRatios(result.records),
    skipped: result.skipped,
  };
  if (!values.json) {
    out.log(latencyTable(result.records));
    for (const s of result.skipped) out.log(`(S=${s.split} ${s.mode} skipped: ${s.reason})`);
    for (const r of doc.ratios)
      out.log(
        `S=${r.split} batch ${r.batch}: best ${r.best_mode} at ${r.vs_undivided}× the undivided latency` +
          (r.speedup_vs_sequential === null
            ? ""
            : `, ${r.speedup_vs_sequential}× faster than sequential`),
      );
  }
  out.log(JSON.stringify(doc));
  return 0;
}
