// `npm run bench:engine`: training and inference throughput of a CIFAR ResNet written with
// divco next to the same network and loop in PyTorch (bench/engine_torch.py), in one run, on
// the same machine, with the same threads, batch, dtype (fp32) and memory format. Prints one
// JSON object; top-level figures are ResNet-20 (n=3), ResNet-56 (n=9) is nested.
//
// Options: --threads T (default: all cores) --batch B (128) --steps S (20) --warmup W (5)
//          --reps R (3; alternating divco/PyTorch, median reported) --format channels_last|contiguous
//          --depths 3,9 --python /usr/bin/python3
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import {
  randn,
  randint,
  scope,
  inferenceMode,
  manualSeed,
  setNumThreads,
  getNumThreads,
  tensor,
  buildInfo,
} from "../src/tensor/index.js";
import { F } from "../src/nn/index.js";
import { SGD } from "../src/optim/index.js";
import { CifarResNet } from "./resnet_cifar.js";

const { values: a } = parseArgs({
  options: {
    threads: { type: "string", default: String(availableParallelism()) },
    batch: { type: "string", default: "128" },
    steps: { type: "string", default: "20" },
    warmup: { type: "string", default: "5" },
    reps: { type: "string", default: "3" },
    format: { type: "string", default: "channels_last" },
    depths: { type: "string", default: "3,9" },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
const threads = Number(a.threads);
const batch = Number(a.batch);
const steps = Number(a.steps);
const warmup = Number(a.warmup);
const reps = Number(a.reps);
const channelsLast = a.format === "channels_last";
setNumThreads(threads);

function measureDivco(n: number): { train_img_s: number; infer_img_s: number } {
  manualSeed(0);
  const model = new CifarResNet(n);
  const fmt = channelsLast ? "channelsLast" : "contiguous";
  model.to({ memoryFormat: fmt });
  const x0 = randn([batch, 3, 32, 32]);
  const x = x0.contiguous(fmt).keep();
  x0.dispose();
  const y = randint(0, 10, [batch]).keep();
  const opt = new SGD(model.parameters(), {
    lr: 0.1,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 5e-4,
  });
  const trainStep = () =>
    scope(() => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
    });
  model.train();
  for (let i = 0; i < warmup; i++) trainStep();
  let t0 = performance.now();
  for (let i = 0; i < steps; i++) trainStep();
  const train = (batch * steps) / ((performance.now() - t0) / 1000);

  model.eval();
  const inferStep = () => inferenceMode(() => model.forward(x).dispose());
  for (let i = 0; i < warmup; i++) inferStep();
  t0 = performance.now();
  for (let i = 0; i < steps; i++) inferStep();
  const infer = (batch * steps) / ((performance.now() - t0) / 1000);
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return { train_img_s: train, infer_img_s: infer };
}

function measureTorch(n: number): { train_img_s: number; infer_img_s: number } {
  const out = execFileSync(a.python!, [
    new URL("../../bench/engine_torch.py", import.meta.url).pathname,
    "--n",
    String(n),
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
  ]).toString();
  return JSON.parse(out);
}

function dispatchDivco(iters: number): number {
  const t = tensor([1]);
  for (let i = 0; i < 1000; i++) t.add(t).dispose();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) t.add(t).dispose();
  const us = ((performance.now() - t0) * 1000) / iters;
  t.dispose();
  return us;
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

const results: Record<string, unknown> = {};
const perDepth: Record<string, Record<string, number | number[]>> = {};
for (const n of a.depths!.split(",").map(Number)) {
  const d: { train: number[]; infer: number[] } = { train: [], infer: [] };
  const t: { train: number[]; infer: number[] } = { train: [], infer: [] };
  for (let r = 0; r < reps; r++) {
    const tr = measureTorch(n);
    t.train.push(tr.train_img_s);
    t.infer.push(tr.infer_img_s);
    const dv = measureDivco(n);
    d.train.push(dv.train_img_s);
    d.infer.push(dv.infer_img_s);
  }
  perDepth[`resnet${6 * n + 2}`] = {
    n,
    divco_train_img_s: median(d.train),
    torch_train_img_s: median(t.train),
    train_ratio: median(d.train) / median(t.train),
    divco_infer_img_s: median(d.infer),
    torch_infer_img_s: median(t.infer),
    infer_ratio: median(d.infer) / median(t.infer),
    divco_train_runs: d.train,
    torch_train_runs: t.train,
    divco_infer_runs: d.infer,
    torch_infer_runs: t.infer,
  };
}
const first = perDepth.resnet20 ?? Object.values(perDepth)[0];
Object.assign(results, {
  divco_train_img_s: first.divco_train_img_s,
  torch_train_img_s: first.torch_train_img_s,
  train_ratio: first.train_ratio,
  divco_infer_img_s: first.divco_infer_img_s,
  torch_infer_img_s: first.torch_infer_img_s,
  infer_ratio: first.infer_ratio,
  models: perDepth,
});
const torchDispatch = JSON.parse(
  execFileSync(a.python!, [
    new URL("../../bench/engine_torch.py", import.meta.url).pathname,
    "--dispatch",
    "--threads",
    String(threads),
  ]).toString(),
);
results.dispatch_us = {
  divco: dispatchDivco(200000),
  torch: torchDispatch.dispatch_us,
  op: "add of two 1-element f32 tensors",
};
results.setup = {
  threads: getNumThreads(),
  batch,
  dtype: "f32",
  memory_format: channelsLast ? "channels_last" : "contiguous",
  steps,
  warmup,
  reps,
  statistic: "median over reps, alternating PyTorch and divco",
  libtorch: buildInfo().torchVersion,
  torch: torchDispatch.torch,
  step: "zero_grad(set_to_none) + forward + cross_entropy + backward + SGD(nesterov, momentum 0.9, wd 5e-4, foreach)",
};
console.log(JSON.stringify(results, null, 2));
