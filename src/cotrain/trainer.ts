// The training loop: run directory, per-iteration LR, co-training steps, evaluation every
// epoch, metrics (JSONL, CSV, TensorBoard), checkpoints (last, best, keep-last-N), bit-exact
// resume, Ctrl-C and NaN handling (DESIGN.md §6).
import { existsSync, mkdirSync, readdirSync, readFileSync, copyFileSync, renameSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { scope } from "../tensor/scope.js";
import { manualSeed } from "../tensor/random.js";
import { setNumThreads } from "../tensor/runtime.js";
import { create } from "../models/registry.js";
import type { Members } from "../models/members.js";
import { SGD } from "../optim/sgd.js";
import { AdamW } from "../optim/adamw.js";
import { RMSprop } from "../optim/rmsprop.js";
import type { Optimizer } from "../optim/optimizer.js";
import { LrSchedule, LR_DEFAULTS } from "../optim/schedule.js";
import { weightDecayGroups, dividedWeightDecay } from "../optim/param_groups.js";
import { MultiViewLoader } from "../data/loader.js";
import { presetAugmentation } from "../data/transforms/pipeline.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { EventWriter } from "../report/tensorboard.js";
import { MetricsLog } from "../report/metrics_log.js";
import { Progress } from "../report/progress.js";
import { resolveConfig, configDiff, ConfigError, type TrainConfig } from "./config.js";
import { openDatasets } from "./datasets.js";
import { coTrainStep, coTrainStepConcurrent, type StepOptions } from "./step.js";
import { ConcurrentMembers, drawsRandomInForward, randomDrawsMessage } from "./concurrent.js";
import { evaluate, type EvalResult } from "./evaluate.js";
import { saveCheckpoint, loadCheckpoint, removeCheckpoint, checkpointPaths, type Position } from "./checkpoint.js";

export interface EpochInfo {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainCe: number;
  trainCot: number;
  cotWeight: number;
  trainTop1: number;
  memberTrainTop1: number[];
  eval: EvalResult;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainCallbacks {
  /** After every training step. */
  onStep?(info: { epoch: number; batchIndex: number; batches: number; lr: number; loss: number; imagesPerSecond: number }): void;
  /** After every epoch's evaluation (metrics are already logged and checkpoints saved). */
  onEpoch?(info: EpochInfo): void;
}

export interface TrainOptions {
  /** Continue the run in `runDir` from its last checkpoint. */
  resume?: boolean;
  callbacks?: TrainCallbacks;
  /** Stops the run at the end of the current step with a checkpoint (Ctrl-C does the same). */
  signal?: AbortSignal;
  /** Where progress goes (default stderr); `quiet` prints nothing. */
  progress?: NodeJS.WritableStream | "quiet";
  /** Install a SIGINT handler that checkpoints and stops (the CLI does; library users may not want it). */
  handleSigint?: boolean;
}

export interface TrainResult {
  config: TrainConfig;
  runDir: string;
  status: "completed" | "interrupted";
  epochs: EpochInfo[];
  bestAcc1: number;
  bestEpoch: number;
  position: Position;
}

export class NonFiniteLossError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

const CKPT = "checkpoints";

/** Running sums of one epoch's training statistics. */
interface EpochSums {
  loss: number;
  ce: number;
  cot: number;
  images: number;
  ens: number;
  member: number[];
  w: number;
  lr: number;
  n: number;
  /** Training seconds already spent on this epoch before an interruption (absent in old checkpoints). */
  seconds?: number;
}

/** Resolves the config for a new run, or the saved one (plus allowed changes) for a resumed run. */
function prepareRunDir(user: Partial<TrainConfig> & { arch?: string; runDir: string }, resume: boolean): TrainConfig {
  const configPath = join(user.runDir, "config.json");
  if (resume) {
    if (!existsSync(configPath)) throw new ConfigError(`cannot resume: ${configPath} does not exist (is ${user.runDir} a divco run directory?)`);
    const saved = JSON.parse(readFileSync(configPath, "utf8")) as TrainConfig;
    const requested = resolveConfig({ ...saved, ...stripUndefined(user), arch: user.arch ?? saved.arch });
    const diff = configDiff(saved, requested);
    if (diff.length) {
      throw new ConfigError(`cannot resume ${user.runDir} with a different configuration:\n  ${diff.join("\n  ")}\n(only epochs, workers and keepLast may change on resume)`);
    }
    return requested;
  }
  if (!user.arch) throw new ConfigError("arch is required (divco summary --list shows the architectures)");
  const cfg = resolveConfig(user as Partial<TrainConfig> & { arch: string; runDir: string });
  if (existsSync(cfg.runDir) && readdirSync(cfg.runDir).length > 0) {
    throw new ConfigError(`run directory ${cfg.runDir} already exists and is not empty; pass --resume to continue it, or choose another --run-dir`);
  }
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function makeOptimizer(c: TrainConfig, members: Members): Optimizer<{ lr: number }> {
  const wd = c.divideWeightDecay ? dividedWeightDecay(c.weightDecay, c.split) : c.weightDecay;
  const g = weightDecayGroups(members, c.decayGrouping);
  const groups = [
    { params: g.decay, options: { weightDecay: wd } },
    { params: g.noDecay, options: { weightDecay: 0 } },
  ].filter((x) => x.params.length > 0);
  switch (c.optimizer) {
    case "SGD":
      return new SGD(groups, { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov });
    case "AdamW":
      // REFERENCE.md §6.1: AdamW with betas (0.9, 0.999), eps 1e-4.
      return new AdamW(groups, { lr: c.lr, eps: 1e-4 });
    case "RMSprop":
      // REFERENCE.md §6.1: alpha 0.9, momentum 0.9.
      return new RMSprop(groups, { lr: c.lr, alpha: 0.9, momentum: c.momentum });
  }
}

/** Copies a checkpoint's two files under a new name (tensors first, each via temp + rename). */
function copyCheckpoint(dir: string, from: string, to: string): void {
  const a = checkpointPaths(dir, from);
  const b = checkpointPaths(dir, to);
  for (const [src, dst] of [[a.tensors, b.tensors], [a.meta, b.meta]]) {
    copyFileSync(src, dst + ".tmp");
    renameSync(dst + ".tmp", dst);
  }
}

export async function train(user: Partial<TrainConfig> & { arch?: string; runDir: string }, opts: TrainOptions = {}): Promise<TrainResult> {
  const resume = opts.resume ?? false;
  const c = prepareRunDir(user, resume);
  const ckptDir = join(c.runDir, CKPT);
  const threads = c.threads > 0 ? c.threads : availableParallelism();
  setNumThreads(threads);
  manualSeed(c.seed);
  const members = create(c.arch, { split: c.split, dataset: c.dataset });
  members.to({ device: c.device as "cpu", memoryFormat: c.memoryFormat });
  const optimizer = makeOptimizer(c, members);
  const numClasses = members.options.numClasses;

  const { train: trainSet, test: testSet } = openDatasets(c);
  const augment = presetAugmentation(c.dataset, { train: true, autoaugment: c.autoaugment, randaugment: c.randaugment ?? undefined, cutout: c.cutout, eraseP: c.eraseP });
  const trainLoader = new MultiViewLoader({
    dataset: trainSet,
    augment,
    batchSize: c.batchSize,
    views: c.sameView ? 1 : c.split,
    seed: c.seed,
    workers: c.workers,
    mixupAlpha: c.mixupAlpha,
  });
  const testLoader = new MultiViewLoader({
    dataset: testSet,
    augment: presetAugmentation(c.dataset, { train: false }),
    batchSize: c.evalBatchSize,
    shuffle: false,
    dropLast: false,
    seed: c.seed,
    workers: c.workers,
  });
  if (c.concurrentMembers && drawsRandomInForward(c.arch, members.options)) {
    throw new ConfigError(randomDrawsMessage(c.arch));
  }
  // Everything that can reject the configuration (architecture, S, data) has run: only now is
  // the run directory created, so a failed start leaves nothing behind to trip over.
  mkdirSync(ckptDir, { recursive: true });
  writeFileAtomicSync(join(c.runDir, "config.json"), new TextEncoder().encode(JSON.stringify(c, null, 2) + "\n"));
  const batches = trainLoader.batchesPerEpoch();
  const schedule = new LrSchedule({
    ...LR_DEFAULTS, mode: c.lrMode, lr: c.lr, epochs: c.epochs, itersPerEpoch: batches, warmupEpochs: c.warmupEpochs,
    warmupStartLr: c.warmupStartLr, endLr: c.endLr, milestones: c.milestones, stepMultiplier: c.lrStepMultiplier,
  });

  let position: Position = { epoch: 0, batchIndex: 0, step: 0 };
  let bestAcc1 = -1;
  let bestEpoch = -1;
  let partial: EpochSums | undefined;
  if (resume && existsSync(checkpointPaths(ckptDir, "last").meta)) {
    const meta = loadCheckpoint(ckptDir, "last", members, optimizer);
    position = { epoch: meta.epoch, batchIndex: meta.batchIndex, step: meta.step };
    bestAcc1 = meta.bestAcc1;
    bestEpoch = meta.bestEpoch;
    partial = meta.partialEpoch as EpochSums | undefined;
  }
  const metrics = new MetricsLog(c.runDir);
  // Rows are numbered by finished epoch (1-based); rows past the checkpoint's epoch belong to
  // a run that crashed after logging and are about to be redone.
  metrics.truncateAfter(position.epoch);
  const events = new EventWriter(join(c.runDir, "tensorboard"));
  // Scalars are logged at step = epoch number; TensorBoard drops a crashed session's points at
  // or after the step where the new session starts.
  events.sessionStart(position.epoch + 1);

  const out = opts.progress === "quiet" ? null : (opts.progress ?? process.stderr);
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    out?.write("\ndivco: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n");
  };
  if (opts.handleSigint) process.on("SIGINT", onSigint);
  opts.signal?.addEventListener("abort", () => (stopRequested = true));

  const epochs: EpochInfo[] = [];
  const saveLast = (p: Position, evalMetrics: Record<string, number>, partialEpoch?: EpochSums) =>
    saveCheckpoint(ckptDir, "last", members, optimizer, { ...p, arch: c.arch, split: c.split, bestAcc1, bestEpoch, metrics: evalMetrics, partialEpoch: partialEpoch as never });
  let status: TrainResult["status"] = "completed";
  const stepOptions: StepOptions = {
    numClasses, labelSmoothing: c.labelSmoothing, cotLoss: c.cotLoss, cotWeight: c.cotWeight, cotWarmupEpochs: c.cotWarmupEpochs,
    gradAccumulation: c.gradAccumulation, memoryFormat: c.memoryFormat, device: c.device,
  };
  // Started after the checkpoint is loaded: the workers compute on these very tensors.
  let pool: ConcurrentMembers | null = null;
  try {
    if (c.concurrentMembers) pool = await ConcurrentMembers.start(members, { threads });
    for (let epoch = position.epoch; epoch < c.epochs; epoch++) {
      members.train();
      const t0 = performance.now();
      const progress = out ? new Progress({ total: batches, label: `epoch ${epoch + 1}/${c.epochs}`, stream: out }) : null;
      const start = epoch === position.epoch ? position.batchIndex : 0;
      // An epoch resumed part-way continues the interrupted run's running sums.
      const sums: EpochSums = start > 0 && partial ? partial : { loss: 0, ce: 0, cot: 0, images: 0, ens: 0, member: new Array<number>(c.split).fill(0), w: 0, lr: 0, n: 0 };
      // Seconds and images/s of an epoch resumed part-way count the interrupted session's time too.
      const secondsBefore = sums.seconds ?? 0;
      progress?.update(start, {});
      for await (const batch of trainLoader.epoch(epoch, { batchIndex: start })) {
        const lr = schedule.at(epoch, batch.index);
        optimizer.setLr(lr);
        const ts = performance.now();
        const lastOfEpoch = batch.index === batches - 1;
        const r = pool
          ? await coTrainStepConcurrent(pool, optimizer, batch, epoch, lastOfEpoch, stepOptions)
          : scope(() => coTrainStep(members, optimizer, batch, epoch, lastOfEpoch, stepOptions));
        if (!Number.isFinite(r.loss)) {
          const last = checkpointPaths(ckptDir, "last").meta;
          throw new NonFiniteLossError(
            `the loss became ${r.loss} at epoch ${epoch + 1}, batch ${batch.index + 1} (lr ${lr.toExponential(3)}, CE ${r.ce}, co-training ${r.cot}); ` +
              `training stopped. ${existsSync(last) ? `The last good checkpoint is ${last}` : "No checkpoint was saved yet"}; lower --lr or check the data.`,
          );
        }
        if (r.stepped) position.step++;
        sums.loss += r.loss * r.images;
        sums.ce += r.ce * r.images;
        sums.cot += r.cot * r.images;
        sums.images += r.images;
        sums.ens += r.ensembleCorrect;
        r.memberCorrect.forEach((v, i) => (sums.member[i] += v));
        sums.w = r.cotWeight;
        sums.lr = lr;
        sums.n++;
        const ips = r.images / ((performance.now() - ts) / 1000);
        progress?.update(batch.index + 1, { loss: r.loss.toFixed(4), lr: lr.toExponential(2), "img/s": Math.round(ips) });
        opts.callbacks?.onStep?.({ epoch, batchIndex: batch.index, batches, lr, loss: r.loss, imagesPerSecond: ips });
        // Let the event loop run between steps: when the loader has the next batch ready, the
        // `for await` resolves in a microtask and signal handlers (Ctrl-C), timers and GC
        // finalisers would otherwise never get a turn during an epoch.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (stopRequested && batch.index + 1 < batches) {
          position = { epoch, batchIndex: batch.index + 1, step: position.step };
          saveLast(position, {}, { ...sums, seconds: secondsBefore + (performance.now() - t0) / 1000 });
          progress?.log(`divco: checkpoint saved at epoch ${epoch + 1}, batch ${batch.index + 1}; continue with --resume ${c.runDir}`);
          status = "interrupted";
          break;
        }
      }
      if (status === "interrupted") break;
      const seconds = secondsBefore + (performance.now() - t0) / 1000;
      progress?.done({});
      const ev = await evaluate(members, testLoader, { rule: c.ensemble, memoryFormat: c.memoryFormat, device: c.device, epoch });
      const info: EpochInfo = {
        epoch,
        lr: sums.lr,
        trainLoss: sums.loss / Math.max(sums.images, 1),
        trainCe: sums.ce / Math.max(sums.images, 1),
        trainCot: sums.cot / Math.max(sums.images, 1),
        cotWeight: sums.w,
        trainTop1: (100 * sums.ens) / Math.max(sums.images, 1),
        memberTrainTop1: sums.member.map((v) => (100 * v) / Math.max(sums.images, 1)),
        eval: ev,
        seconds,
        imagesPerSecond: sums.images / seconds,
      };
      epochs.push(info);
      const row: Record<string, number> = {
        epoch: epoch + 1, step: position.step, lr: info.lr, train_loss: info.trainLoss, train_ce: info.trainCe,
        train_cot: info.trainCot, cot_weight: info.cotWeight, train_acc1: info.trainTop1,
        val_acc1: ev.top1, val_acc5: ev.top5, val_loss: ev.loss,
        ...Object.fromEntries(ev.memberTop1.map((v, i) => [`val_acc1_member${i}`, v])),
        epoch_seconds: seconds, train_images_per_s: info.imagesPerSecond,
      };
      metrics.append(row);
      for (const [k, v] of Object.entries(row)) if (k !== "epoch" && k !== "step") events.scalar(k, v, epoch + 1);
      events.flush();
      out?.write(
        `epoch ${epoch + 1}/${c.epochs}: loss ${info.trainLoss.toFixed(4)} | val ensemble top-1 ${ev.top1.toFixed(2)}% top-5 ${ev.top5.toFixed(2)}% | ` +
          `members ${ev.memberTop1.map((v) => v.toFixed(2) + "%").join(" ")} | ${seconds.toFixed(1)} s, ${Math.round(info.imagesPerSecond)} img/s\n`,
      );
      position = { epoch: epoch + 1, batchIndex: 0, step: position.step };
      const improved = ev.top1 > bestAcc1;
      if (improved) {
        bestAcc1 = ev.top1;
        bestEpoch = epoch + 1;
      }
      saveLast(position, row);
      if (improved) copyCheckpoint(ckptDir, "last", "best");
      if (c.keepLast > 0) {
        copyCheckpoint(ckptDir, "last", `epoch-${String(epoch + 1).padStart(4, "0")}`);
        const old = epoch + 1 - c.keepLast;
        if (old >= 1) removeCheckpoint(ckptDir, `epoch-${String(old).padStart(4, "0")}`);
      }
      opts.callbacks?.onEpoch?.(info);
      if (stopRequested) {
        status = epoch + 1 < c.epochs ? "interrupted" : "completed";
        break;
      }
    }
  } finally {
    if (opts.handleSigint) process.off("SIGINT", onSigint);
    await pool?.close();
    events.close();
    await trainLoader.close();
    await testLoader.close();
    optimizer.dispose();
    members.dispose();
  }
  return { config: c, runDir: c.runDir, status, epochs, bestAcc1, bestEpoch, position };
}
