// Building a run from its resolved config: the members (seeded), the optimiser with the
// reference's weight-decay groups, the training and evaluation loaders, the per-iteration LR
// schedule and the step options (REFERENCE.md §3, §6). Nothing here writes to the run directory.
import { availableParallelism } from "node:os";
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
import { ConfigError, type TrainConfig } from "./config.js";
import { openDatasets } from "./datasets.js";
import { checkEvaluationImages } from "./preflight.js";
import { drawsRandomInForward, randomDrawsMessage } from "./concurrent.js";
import type { StepOptions } from "./step.js";

/**
 * This process's part of a distributed run (cotrain/distributed.ts decides it); without one a
 * process runs the whole run: the config's threads, workers and device, every image, every view.
 */
export interface RunPlacement {
  threads: number;
  workers: number;
  device: string;
  /** This rank's shard of every training and evaluation batch. */
  shard: { index: number; count: number };
  /** Member-parallel: the member whose view (only) this rank loads; null: every member's. */
  member: number | null;
}

/** Everything a run computes with; `closeRun` releases it. */
export interface Run {
  readonly config: TrainConfig;
  /** Intra-op threads in use (the config's, or every core when it says 0). */
  readonly threads: number;
  readonly members: Members;
  readonly optimizer: Optimizer<{ lr: number }>;
  readonly trainLoader: MultiViewLoader;
  readonly testLoader: MultiViewLoader;
  readonly schedule: LrSchedule;
  /** Training batches per epoch. */
  readonly batches: number;
  readonly stepOptions: StepOptions;
}

export interface BuildRunOptions {
  /** Where the evaluation images' pre-flight check shows its progress (default: nowhere). */
  progress?: NodeJS.WritableStream | null;
  /** A distributed rank's share of the run (threads, loader shard, member); absent: all of it. */
  placement?: RunPlacement;
}

/**
 * Builds the run for `c`: sets the thread count and seed, then builds members, optimiser and
 * loaders, and decodes every evaluation image once (preflight.ts). Throws (releasing what it
 * built) when the architecture, S or the data reject the config.
 */
export async function buildRun(c: TrainConfig, opts: BuildRunOptions = {}): Promise<Run> {
  const { placement } = opts;
  const threads = placement?.threads ?? (c.threads > 0 ? c.threads : availableParallelism());
  const device = placement?.device ?? c.device;
  const workers = placement?.workers ?? c.workers;
  const member = placement?.member ?? null;
  setNumThreads(threads);
  manualSeed(c.seed);
  const members = create(c.arch, { split: c.split, dataset: c.dataset });
  const made: { optimizer?: Optimizer<{ lr: number }>; loaders: MultiViewLoader[] } = {
    loaders: [],
  };
  try {
    members.to({ device: device as "cpu", memoryFormat: c.memoryFormat });
    const optimizer = (made.optimizer = makeOptimizer(c, members));
    if (c.concurrentMembers && drawsRandomInForward(c.arch, members.options)) {
      throw new ConfigError(randomDrawsMessage(c.arch));
    }
    const { train: trainSet, test: testSet } = openDatasets(c);
    await checkEvaluationImages(testSet, opts.progress ?? null);
    const augment = presetAugmentation(c.dataset, {
      train: true,
      autoaugment: c.autoaugment,
      randaugment: c.randaugment ?? undefined,
      cutout: c.cutout,
      eraseP: c.eraseP,
    });
    const trainLoader = new MultiViewLoader({
      dataset: trainSet,
      augment,
      batchSize: c.batchSize,
      views: c.sameView || member !== null ? 1 : c.split,
      firstView: c.sameView || member === null ? 0 : member,
      shard: placement?.shard,
      seed: c.seed,
      workers,
      mixupAlpha: c.mixupAlpha,
      onBadImage: c.onBadImage,
    });
    made.loaders.push(trainLoader);
    const testLoader = new MultiViewLoader({
      dataset: testSet,
      augment: presetAugmentation(c.dataset, { train: false }),
      batchSize: c.evalBatchSize,
      shuffle: false,
      dropLast: false,
      shard: placement?.shard,
      seed: c.seed,
      workers,
    });
    made.loaders.push(testLoader);
    const batches = trainLoader.batchesPerEpoch();
    const schedule = new LrSchedule({
      ...LR_DEFAULTS,
      mode: c.lrMode,
      lr: c.lr,
      epochs: c.epochs,
      itersPerEpoch: batches,
      warmupEpochs: c.warmupEpochs,
      warmupStartLr: c.warmupStartLr,
      endLr: c.endLr,
      milestones: c.milestones,
      stepMultiplier: c.lrStepMultiplier,
    });
    const stepOptions: StepOptions = {
      numClasses: members.options.numClasses,
      labelSmoothing: c.labelSmoothing,
      cotLoss: c.cotLoss,
      cotWeight: c.cotWeight,
      cotWarmupEpochs: c.cotWarmupEpochs,
      gradAccumulation: c.gradAccumulation,
      memoryFormat: c.memoryFormat,
      device,
    };
    return {
      config: c,
      threads,
      members,
      optimizer,
      trainLoader,
      testLoader,
      schedule,
      batches,
      stepOptions,
    };
  } catch (e) {
    for (const l of made.loaders) await l.close();
    made.optimizer?.dispose();
    members.dispose();
    throw e;
  }
}

/** Stops the loaders' workers and frees the optimiser's state and the members. */
export async function closeRun(run: Run): Promise<void> {
  await run.trainLoader.close();
  await run.testLoader.close();
  run.optimizer.dispose();
  run.members.dispose();
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
