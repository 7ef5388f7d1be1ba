// `divco demo`: the README's main job. Offline, on the embedded CIFAR-10 sample, it co-trains a
// divided model (S=2) and its undivided counterpart (S=1) with the reference's CIFAR recipe
// (shortened), then prints ensemble vs members vs undivided with params, MACs, training time and
// per-image latency at batch 1 (the divided model in its fastest execution mode, src/infer).
// Both runs stay in the run directory (config, metrics, TensorBoard events, checkpoints), with
// the HTML report of both (`divco report`) in its report/ directory.
import { join } from "node:path";
import { existsSync } from "node:fs";
import {
  defineCommand,
  intFlag,
  runCommand,
  stdio,
  UsageError,
  type Out,
  type ValuesOf,
} from "./args.js";
import { train, type TrainResult } from "../cotrain/trainer.js";
import { ConfigError } from "../cotrain/config.js";
import { create, resolveArch, ArchError } from "../models/registry.js";
import { countMembers, humanCount } from "../report/accounting.js";
import { writeReport } from "./report.js";
import { Ensemble } from "../infer/predictor.js";
import { randn } from "../tensor/creation.js";
import { Generator } from "../tensor/random.js";
import { getNumThreads } from "../tensor/runtime.js";
import { summarize, timeInterleaved } from "../infer/latency.js";
import { latencyRecord, machineInfo, type LatencyRecord } from "../infer/bench.js";
import { latencyEntries } from "../report/latency_file.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import "../models/index.js";

export const DEMO = defineCommand({
  name: "demo",
  summary: "offline demo: S=2 vs S=1 on the embedded CIFAR-10 sample (~3 min)",
  description: `Co-trains ARCH with S members and its undivided counterpart (S=1) on the embedded CIFAR-10
sample (2000 training images, the 1000 bit-exact test images), offline, and compares them.
Takes about 2½ minutes on 2 cores with the defaults (measured: 68 s + 94 s).`,
  flags: {
    "run-dir": {
      type: "string",
      value: "DIR",
      defaultText: "runs/demo-<time>",
      description: "where both runs are written (must not exist)",
    },
    arch: {
      type: "string",
      value: "NAME",
      default: "resnet29",
      description: "architecture (divco summary --list)",
    },
    epochs: {
      type: "string",
      value: "N",
      default: "3",
      description: "training epochs of each run (≥ 2: the first warms the learning rate up)",
    },
    split: {
      type: "string",
      value: "S",
      default: "2",
      description: "members of the divided run (≥ 2; compared with S=1)",
    },
    threads: {
      type: "string",
      value: "N",
      default: "0",
      description: "intra-op CPU threads (0 = all cores)",
    },
  },
});

export async function runDemo(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(DEMO, argv, out, (args) => demo(args.values, out), {
    usageErrors: [ArchError, ConfigError],
  });
}

async function demo(values: ValuesOf<typeof DEMO>, out: Out): Promise<number> {
  const arch = values.arch;
  const epochs = intFlag("epochs", values.epochs, 2); // one warm-up epoch, then at least one more
  const split = intFlag("split", values.split, 2); // ≥ 2: it is compared with S=1
  const threads = intFlag("threads", values.threads, 0);
  for (const s of [1, split]) resolveArch(arch, { split: s, dataset: "cifar10" });
  const runDir =
    values["run-dir"] ?? join("runs", `demo-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  if (existsSync(runDir))
    throw new UsageError(`${runDir} already exists; choose another --run-dir`);
  out.log(
    `divco demo: ${arch}, S=1 vs S=${split}, ${epochs} epochs on the embedded CIFAR-10 sample → ${runDir}`,
  );
  // The reference's CIFAR-10 recipe (REFERENCE.md §6.2) with a schedule short enough for a demo:
  // one warm-up epoch, cosine to end_lr, co-training weight warmed up over half the epochs.
  const common = {
    arch,
    dataset: "cifar10" as const,
    data: "sample",
    epochs,
    batchSize: 64,
    evalBatchSize: 200,
    warmupEpochs: 1,
    cotWarmupEpochs: Math.max(1, Math.floor(epochs / 2)),
    keepLast: 0,
    workers: 1,
    threads,
    seed: 0,
  };
  const results: { split: number; r: TrainResult; seconds: number }[] = [];
  for (const s of [1, split]) {
    const t0 = performance.now();
    const r = await train(
      { ...common, split: s, runDir: join(runDir, `S${s}`) },
      { handleSigint: true },
    );
    results.push({ split: s, r, seconds: (performance.now() - t0) / 1000 });
    if (r.status === "interrupted") return 130;
  }
  const measured = await batchOneLatency(
    results.map(({ split: s }) => join(runDir, `S${s}`)),
    threads || getNumThreads(),
  );
  // The same figures in `divco bench latency`'s format, for the report's latency chart and for
  // `divco report --latency` later.
  const latencyFile = join(runDir, "latency.json");
  const latencyDoc = { machine: machineInfo(), results: measured.records };
  writeFileAtomicSync(latencyFile, Buffer.from(JSON.stringify(latencyDoc, null, 2)));
  const rows = results.map(({ split: s, r, seconds }, k) => {
    const m = create(arch, { split: s, dataset: "cifar10" });
    const counts = countMembers(m);
    m.dispose();
    const last = r.epochs[r.epochs.length - 1].eval;
    return {
      model: s === 1 ? `undivided (S=1)` : `divided (S=${s})`,
      params: humanCount(counts.total.params),
      macs: humanCount(counts.total.macs),
      ensemble: `${last.top1.toFixed(1)}%`,
      best: `${r.bestAcc1.toFixed(1)}%`,
      members: s === 1 ? "–" : last.memberTop1.map((v) => `${v.toFixed(1)}%`).join(", "),
      time: `${seconds.toFixed(0)} s`,
      latency: measured.text[k],
    };
  });
  const head = {
    model: "model",
    params: "params",
    macs: "MACs",
    ensemble: "top-1 (last)",
    best: "best",
    members: "members top-1",
    time: "train time",
    latency: "latency (batch 1)",
  };
  const cols = Object.keys(head) as (keyof typeof head)[];
  const width = Object.fromEntries(
    cols.map((c) => [c, Math.max(head[c].length, ...rows.map((r) => r[c].length))]),
  );
  const line = (r: typeof head) => cols.map((c) => r[c].padEnd(width[c])).join("  ");
  out.log(`\n${line(head)}\n${rows.map(line).join("\n")}\n`);
  out.log(
    `Runs: ${join(runDir, "S1")}, ${join(runDir, `S${split}`)} (metrics.csv, tensorboard/, checkpoints/)`,
  );
  const index = await writeReport(
    results.map((x) => join(runDir, `S${x.split}`)),
    join(runDir, "report"),
    { latency: latencyEntries(latencyDoc, latencyFile), latencyBatch: 1 },
  );
  out.log(`Report (curves, accuracy vs params, MACs and batch-1 latency): ${index}`);
  return 0;
}

/**
 * Per-image latency at batch 1 of each run's best checkpoint: the undivided model as one
 * network, a divided one in the execution mode "auto" picks; timed in interleaved rounds.
 * Returns the table's text and the measurements as `divco bench latency` records them.
 */
async function batchOneLatency(
  runDirs: string[],
  threads: number,
): Promise<{ text: string[]; records: LatencyRecord[] }> {
  const models: Ensemble[] = [];
  try {
    for (const dir of runDirs) models.push(await Ensemble.load(dir, { mode: "auto", threads }));
    const x = randn([1, 3, models[0].crop, models[0].crop], { generator: new Generator(0) });
    try {
      const times = await timeInterleaved(
        models.map((m) => async () => {
          for (const z of await m.memberLogits(x)) z.dispose();
        }),
        { warmup: 2, minRounds: 10, maxRounds: 200, budgetMs: 2000 },
      );
      const records = times.map((t, i) => {
        const m = models[i];
        const mode: LatencyRecord["mode"] = m.split === 1 ? "undivided" : m.mode;
        const what = { arch: m.arch, dataset: m.dataset, split: m.split, mode, threads };
        return latencyRecord({ ...what, layout: m.layout }, summarize(t, 1));
      });
      const text = records.map((r) => {
        const mode = r.split === 1 ? "" : ` (${r.mode})`;
        return `${r.latency_ms_median.toFixed(2)} ms${mode}`;
      });
      return { text, records };
    } finally {
      x.dispose();
    }
  } finally {
    for (const m of models) await m.close();
  }
}
