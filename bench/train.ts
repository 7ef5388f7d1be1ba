// `npm run bench:train`: training images/s of divco's co-training step (the one `divco train`
// runs) for S = 1, 2, 4 members of resnet29 (the reference's CIFAR bottleneck ResNet, n=3,
// widths 16/12/8), next to the same step in PyTorch (bench/train_torch.py): S views of a batch,
// mixup soft targets, Σ CE + 0.5·JS, SGD Nesterov with the reference's weight-decay groups.
// Synthetic inputs, so this times the model step, not the data pipeline (npm run bench:data).
// Prints one JSON object with both throughputs and the ratio per S.
//
// For S ≥ 2 it also times the concurrent-members step (`divco train --concurrent-members`:
// members' forward/backward on worker threads, threads/W intra-op threads each) and the same
// scheme written in PyTorch with Python threads (train_torch.py --concurrent), so the gain
// of running members side by side is measured on both sides.
//
// Options: --splits 1,2,4 --threads T --batch B --steps N --warmup W --reps R --format contiguous|channels_last
//          --no-concurrent (skip the concurrent variants)
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { manualSeed, scope, setNumThreads, getNumThreads, buildInfo } from "../src/tensor/index.js";
import { create } from "../src/models/index.js";
import "../src/models/resnet.js";
import { SGD, weightDecayGroups, dividedWeightDecay } from "../src/optim/index.js";
import { coTrainStep, coTrainStepConcurrent } from "../src/cotrain/step.js";
import { ConcurrentMembers } from "../src/cotrain/concurrent.js";
import type { Batch } from "../src/data/loader.js";

const { values: a } = parseArgs({
  options: {
    splits: { type: "string", default: "1,2,4" },
    threads: { type: "string", default: String(availableParallelism()) },
    batch: { type: "string", default: "128" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    reps: { type: "string", default: "3" },
    format: { type: "string", default: "contiguous" },
    python: { type: "string", default: "/usr/bin/python3" },
    "no-concurrent": { type: "boolean", default: false },
  },
});
const threads = Number(a.threads);
const batch = Number(a.batch);
const steps = Number(a.steps);
const warmup = Number(a.warmup);
const channelsLast = a.format === "channels_last";
setNumThreads(threads);

function syntheticBatch(S: number): Batch {
  const rand = (n: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const perm = Int32Array.from({ length: batch }, (_, i) => (i * 37 + 11) % batch);
  return {
    views: Array.from({ length: S }, () => rand(batch * 3 * 32 * 32)),
    labels,
    mixup: { lambda: 0.7, perm },
    index: 0,
    epoch: 5,
    shape: [batch, 3, 32, 32],
  };
}

async function measureDivco(S: number, concurrent: boolean): Promise<number> {
  manualSeed(0);
  const members = create("resnet29", { split: S, dataset: "cifar10" });
  members.to({ memoryFormat: channelsLast ? "channelsLast" : "contiguous" });
  const g = weightDecayGroups(members, "reference");
  const opt = new SGD(
    [
      { params: g.decay, options: { weightDecay: dividedWeightDecay(1e-4, S) } },
      { params: g.noDecay, options: { weightDecay: 0 } },
    ],
    { lr: 0.1, momentum: 0.9, nesterov: true },
  );
  const b = syntheticBatch(S);
  const o = {
    numClasses: 10,
    labelSmoothing: 0,
    cotLoss: "js_divergence" as const,
    cotWeight: 0.5,
    cotWarmupEpochs: 0,
    gradAccumulation: 1,
    memoryFormat: channelsLast ? ("channelsLast" as const) : ("contiguous" as const),
    device: "cpu",
  };
  const pool = concurrent ? await ConcurrentMembers.start(members, { threads }) : null;
  const step = async () =>
    pool
      ? await coTrainStepConcurrent(pool, opt, b, 5, false, o)
      : scope(() => coTrainStep(members, opt, b, 5, false, o));
  for (let i = 0; i < warmup; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const ips = (batch * steps) / ((performance.now() - t0) / 1000);
  await pool?.close();
  opt.dispose();
  members.dispose();
  return ips;
}

function measureTorch(S: number, concurrent: boolean): number {
  const out = execFileSync(a.python!, [
    new URL("../../bench/train_torch.py", import.meta.url).pathname,
    "--split",
    String(S),
    "--batch",
    String(batch),
    "--steps",
    String(steps),
    "--warmup",
    String(warmup),
    "--threads",
    String(threads),
    "--format",
    channelsLast ? "channels_last" : "contiguous",
    ...(concurrent ? ["--concurrent"] : []),
  ]).toString();
  return (JSON.parse(out) as { train_img_s: number }).train_img_s;
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const perSplit: Record<string, unknown> = {};
for (const S of a.splits!.split(",").map(Number)) {
  const conc = S > 1 && !a["no-concurrent"];
  const d: number[] = [];
  const t: number[] = [];
  const dc: number[] = [];
  const tc: number[] = [];
  for (let r = 0; r < Number(a.reps); r++) {
    t.push(measureTorch(S, false));
    d.push(await measureDivco(S, false));
    if (conc) {
      tc.push(measureTorch(S, true));
      dc.push(await measureDivco(S, true));
    }
  }
  perSplit[`S${S}`] = {
    divco_train_img_s: median(d),
    torch_train_img_s: median(t),
    ratio: median(d) / median(t),
    ...(conc
      ? {
          divco_concurrent_train_img_s: median(dc),
          torch_concurrent_train_img_s: median(tc),
          ratio_concurrent_vs_torch: median(dc) / median(t),
          ratio_concurrent_vs_torch_concurrent: median(dc) / median(tc),
          concurrent_workers: Math.min(S, threads),
          divco_concurrent_runs: dc,
          torch_concurrent_runs: tc,
        }
      : {}),
    divco_runs: d,
    torch_runs: t,
  };
}
console.log(
  JSON.stringify(
    {
      arch: "resnet29 (CIFAR bottleneck ResNet, n=3; width 16/12/8 for S=1/2/4)",
      splits: perSplit,
      setup: {
        threads: getNumThreads(),
        batch,
        dtype: "f32",
        memory_format: channelsLast ? "channels_last" : "contiguous",
        steps,
        warmup,
        reps: Number(a.reps),
        statistic: "median over reps, alternating PyTorch and divco",
        libtorch: buildInfo().torchVersion,
        step: "S views → S members → Σ CE(mixup soft targets) + 0.5·JS → backward → SGD nesterov (reference wd groups, wd·exp(1/S−1)) → zero_grad",
        images: "images per second (each image is seen by all S members through its S views)",
      },
    },
    null,
    2,
  ),
);
