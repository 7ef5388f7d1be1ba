// `npm run bench:dist`: what distributing divco's co-training step costs, for resnet29 S = 2
// (the reference's CIFAR bottleneck ResNet; synthetic inputs, global batch B):
//
//   one process × T threads          the step `divco train` runs (the baseline)
//   P processes × T/P threads, data-parallel     `divco train --sync-bn` under `divco launch`,
//                                                 and the same without --sync-bn
//   S processes × T/S threads, member-parallel   `divco train --member-parallel`
//
// For each distributed way it also times, in the same processes, the same local computation
// without any communication (the shard's step, or the member's step with the other members'
// logits as constants), so `communication_share` = 1 − distributed/local steps/s (the time
// ratio the other way round) is the part of a step
// spent exchanging (gradients, SyncBN statistics, logits, the step's numbers) or waiting for the
// other rank. And the all-reduce bandwidth of the backend for the model's gradient size. On a
// 2-core CPU machine the point is this overhead, not a speed-up. With --device cuda (a CUDA
// build with NCCL), one process per GPU and NCCL instead of Gloo.
//
// Prints one JSON object. Options: --batch B --steps N --warmup W --threads T --procs P
// --device cpu|cuda. Internally the script is also the ranks (BENCH_DIST_RANK_OF set).
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  manualSeed,
  scope,
  setNumThreads,
  buildInfo,
  cudaDeviceCount,
} from "../src/tensor/index.js";
import { tensor } from "../src/tensor/creation.js";
import { create } from "../src/models/index.js";
import "../src/models/resnet.js";
import type { Members } from "../src/models/members.js";
import { BatchNorm2d } from "../src/nn/index.js";
import { SGD, weightDecayGroups, dividedWeightDecay } from "../src/optim/index.js";
import { coTrainStep, lossTerms, prepare, type StepOptions } from "../src/cotrain/step.js";
import { DistributedSteps } from "../src/cotrain/dist_steps.js";
import {
  World,
  readDistEnv,
  topology,
  dataGroupRanks,
  memberGroupRanks,
  convertSyncBatchNorm,
  type ProcessGroup,
} from "../src/dist/index.js";
import { freePort } from "../src/dist/launcher.js";
import type { Batch } from "../src/data/loader.js";

const { values: a } = parseArgs({
  options: {
    batch: { type: "string", default: "128" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    threads: { type: "string", default: String(availableParallelism()) },
    procs: { type: "string", default: "2" },
    device: { type: "string", default: "cpu" },
    "allreduce-reps": { type: "string", default: "20" },
  },
});
const batch = Number(a.batch);
const steps = Number(a.steps);
const warmup = Number(a.warmup);
const threads = Number(a.threads);
const cuda = a.device === "cuda";
const procs = cuda ? cudaDeviceCount() : Number(a.procs);
const S = 2;

/** What a rank reports (rank 0's is printed). */
interface RankResult {
  steps_per_s: number;
  local_steps_per_s: number;
  communication_share: number;
  allreduce?: { bytes: number; seconds: number; algbw_GB_s: number; busbw_GB_s: number };
}

function syntheticBatch(n: number, views: number, offset: number): Batch {
  const rand = (k: number) =>
    Float32Array.from({ length: k }, (_, i) => Math.sin((i + offset) * 12.9898) * 1.5);
  return {
    views: Array.from({ length: views }, () => rand(n * 3 * 32 * 32)),
    labels: Int32Array.from({ length: n }, (_, i) => (i + offset) % 10),
    index: 0,
    epoch: 5,
    shape: [n, 3, 32, 32],
  };
}

function stepOptions(device: string): StepOptions {
  return {
    numClasses: 10,
    labelSmoothing: 0,
    cotLoss: "js_divergence",
    cotWeight: 0.5,
    cotWarmupEpochs: 0,
    gradAccumulation: 1,
    memoryFormat: "contiguous",
    device,
  };
}

function build(device: string): { members: Members; opt: SGD } {
  manualSeed(0);
  const members = create("resnet29", { split: S, dataset: "cifar10" });
  members.to({ device: device as "cpu" });
  const g = weightDecayGroups(members, "reference");
  const opt = new SGD(
    [
      { params: g.decay, options: { weightDecay: dividedWeightDecay(1e-4, S) } },
      { params: g.noDecay, options: { weightDecay: 0 } },
    ],
    { lr: 0.05, momentum: 0.9, nesterov: true },
  );
  return { members, opt };
}

async function timeSteps(step: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  return steps / ((performance.now() - t0) / 1000);
}

/** One rank: its distributed steps, then the same local work without communication. */
async function rank(mode: "data" | "member", syncBn: boolean): Promise<RankResult> {
  const env = readDistEnv();
  const device = cuda ? `cuda:${env.localRank}` : "cpu";
  const world = await World.init(env, {
    timeoutMs: 120_000,
    backend: cuda ? "nccl" : "gloo",
    device,
  });
  try {
    const t = topology(env.worldSize, env.rank, mode, S);
    let dataGroup: ProcessGroup = world.group;
    let memberGroup: ProcessGroup | null = null;
    if (mode === "member") {
      for (let m = 0; m < t.memberRanks; m++)
        dataGroup = (await world.newGroup(dataGroupRanks(t, m))) ?? dataGroup;
      for (let d = 0; d < t.replicas; d++)
        memberGroup = (await world.newGroup(memberGroupRanks(t, d))) ?? memberGroup;
    }
    const { members, opt } = build(device);
    const o = stepOptions(device);
    const local = batch / t.replicas;
    const b =
      mode === "data" ? syntheticBatch(local, S, env.rank * local) : syntheticBatch(batch, 1, 0);
    const sync = syncBn && mode === "data" && dataGroup.size > 1;
    if (sync) convertSyncBatchNorm(members, dataGroup);
    const dist = new DistributedSteps({
      members,
      optimizer: opt,
      options: o,
      world: world.group,
      dataGroup,
      memberGroup,
      member: t.member,
      localStop: { requested: false },
      syncBn: sync,
    });
    const distributed = await timeSteps(() => dist.step(b, 5, false));
    await dist.close();
    // The same computation alone: SyncBN off, no reducer, no gathering.
    members.apply((m) => {
      if (m instanceof BatchNorm2d) m.sync = null;
    });
    const alone =
      mode === "data"
        ? await timeSteps(async () => scope(() => coTrainStep(members, opt, b, 5, false, o)))
        : await timeSteps(async () => scope(() => memberStepAlone(members, t.member!, opt, b, o)));
    const result: RankResult = {
      steps_per_s: distributed,
      local_steps_per_s: alone,
      communication_share: 1 - distributed / alone,
    };
    if (mode === "data") result.allreduce = await allReduceBandwidth(world, members, device);
    await world.group.barrier();
    opt.dispose();
    members.dispose();
    await world.leave();
    return result;
  } catch (e) {
    world.destroy();
    throw e;
  }
}

/** The backend's all-reduce of one gradient's worth of floats (the model's parameter count). */
async function allReduceBandwidth(
  world: World,
  members: Members,
  device: string,
): Promise<RankResult["allreduce"]> {
  const numel = members.parameters().reduce((n, p) => n + p.numel, 0);
  using g = tensor(new Float32Array(numel), { device: device as "cpu" });
  for (let i = 0; i < 3; i++) await world.group.allReduce([g]);
  const reps = Number(a["allreduce-reps"]);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await world.group.allReduce([g]);
  const seconds = (performance.now() - t0) / 1000 / reps;
  const bytes = numel * 4;
  const n = world.size;
  return {
    bytes,
    seconds,
    algbw_GB_s: bytes / seconds / 1e9,
    busbw_GB_s: ((bytes / seconds) * (2 * (n - 1))) / n / 1e9,
  };
}

/** Member m's step with the other members' logits as constants: the member-parallel step minus its all_gather. */
function memberStepAlone(members: Members, m: number, opt: SGD, b: Batch, o: StepOptions): void {
  const p = prepare(1, b, o);
  const z = members.models.items[m].forward(p.inputs[0]);
  const logits = Array.from({ length: S }, (_, j) => (j === m ? z : z.detach().mul(0.5)));
  lossTerms(logits, p, 5, o).scaled.backward();
  opt.step();
  opt.zeroGrad();
}

/** Starts `n` ranks of this script in `mode` and returns rank 0's result. */
async function runRanks(
  mode: "data" | "member",
  n: number,
  perRank: number,
  syncBn = false,
): Promise<RankResult> {
  const port = await freePort();
  const script = fileURLToPath(import.meta.url);
  const children = Array.from({ length: n }, (_, r) =>
    spawn(process.execPath, [script, ...process.argv.slice(2)], {
      env: {
        ...process.env,
        BENCH_DIST_RANK_OF: mode,
        BENCH_DIST_SYNC_BN: syncBn ? "1" : "0",
        DIVCO_NUM_THREADS: String(perRank),
        RANK: String(r),
        WORLD_SIZE: String(n),
        LOCAL_RANK: String(r),
        LOCAL_WORLD_SIZE: String(n),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
      },
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  const outputs = await Promise.all(
    children.map(
      (c) =>
        new Promise<string>((resolve, reject) => {
          let out = "";
          c.stdout!.on("data", (d: Buffer) => (out += d.toString()));
          c.on("close", (code) =>
            code === 0 ? resolve(out) : reject(new Error(`bench rank exited with ${code}`)),
          );
        }),
    ),
  );
  return JSON.parse(outputs[0]) as RankResult;
}

async function main(): Promise<void> {
  const role = process.env.BENCH_DIST_RANK_OF as "data" | "member" | undefined;
  if (role) {
    setNumThreads(Number(process.env.DIVCO_NUM_THREADS));
    process.stdout.write(JSON.stringify(await rank(role, process.env.BENCH_DIST_SYNC_BN === "1")));
    return;
  }
  const device = cuda ? "cuda:0" : "cpu";
  setNumThreads(threads);
  const { members, opt } = build(device);
  const o = stepOptions(device);
  const whole = syntheticBatch(batch, S, 0);
  const one = await timeSteps(async () =>
    scope(() => coTrainStep(members, opt, whole, 5, false, o)),
  );
  opt.dispose();
  members.dispose();
  const perRank = Math.max(1, Math.floor(threads / procs));
  const dp = await runRanks("data", procs, perRank, true);
  const dpLocalBn = await runRanks("data", procs, perRank, false);
  const mp = await runRanks("member", S, Math.max(1, Math.floor(threads / S)));
  console.log(
    JSON.stringify(
      {
        arch: "resnet29 (CIFAR bottleneck ResNet, n=3), S = 2",
        one_process: { processes: 1, threads, steps_per_s: one },
        data_parallel: {
          processes: procs,
          threads_per_process: perRank,
          sync_bn: true,
          steps_per_s: dp.steps_per_s,
          local_steps_per_s: dp.local_steps_per_s,
          communication_share: dp.communication_share,
          speedup_vs_one_process: dp.steps_per_s / one,
        },
        data_parallel_without_sync_bn: {
          processes: procs,
          threads_per_process: perRank,
          sync_bn: false,
          steps_per_s: dpLocalBn.steps_per_s,
          local_steps_per_s: dpLocalBn.local_steps_per_s,
          communication_share: dpLocalBn.communication_share,
          speedup_vs_one_process: dpLocalBn.steps_per_s / one,
        },
        member_parallel: {
          processes: S,
          threads_per_process: Math.max(1, Math.floor(threads / S)),
          steps_per_s: mp.steps_per_s,
          local_steps_per_s: mp.local_steps_per_s,
          communication_share: mp.communication_share,
          speedup_vs_one_process: mp.steps_per_s / one,
        },
        allreduce: { backend: cuda ? "nccl" : "gloo", processes: procs, ...dp.allreduce },
        setup: {
          batch,
          steps,
          warmup,
          device: a.device,
          libtorch: buildInfo().torchVersion,
          transport: cuda ? "NCCL between this machine's GPUs" : "Gloo over TCP on 127.0.0.1",
          communication_share:
            "1 − (a rank's distributed steps/s) / (the same rank's steps/s without communication): exchange plus waiting for the other rank",
        },
      },
      null,
      2,
    ),
  );
}

await main();
