// The training loop (DESIGN.md §6, REFERENCE.md §3.3) as named phases, each testable alone:
//   resolveRunConfig  run_config.ts       the new or resumed config (reads only)
//   buildRun          run.ts              members, optimiser, loaders, LR schedule
//   restoreLast       run_checkpoints.ts  model, optimiser, RNG, position from `last`
//   openRunFiles      here                what this process writes: config, log, checkpoints
//   startStepRunner   step_runner.ts      how the members run, chosen once per run
//   trainOneEpoch     epoch.ts            steps, running sums, progress, a mid-epoch stop
//   validate          epoch.ts            ensemble and members on the evaluation set
//   summarizeEpoch    epoch_stats.ts      the epoch's numbers; epochRow, its metrics row
//   EpochLog          run_log.ts          metrics JSONL/CSV, TensorBoard, the printed line
//   RunCheckpoints    run_checkpoints.ts  last, best, the last N epochs
//   StopRequest       stop.ts             Ctrl-C / AbortSignal
//   Distributed       distributed.ts      several processes: agreed config, shards, collectives
// Resume is bit-exact: a stopped epoch continues from its batch with its running sums.
import type { TrainConfig } from "./config.js";
import {
  checkpointDir,
  resolveRunConfig,
  writeRunDirectory,
  type TrainInput,
} from "./run_config.js";
import { buildRun, closeRun, type Run } from "./run.js";
import { startStepRunner, type StepRunner } from "./step_runner.js";
import { trainOneEpoch, validate, type EpochContext, type StepInfo } from "./epoch.js";
import { summarizeEpoch, epochRow, type EpochInfo } from "./epoch_stats.js";
import { EpochLog } from "./run_log.js";
import {
  RunCheckpoints,
  restoreLast,
  resumedSums,
  updateBest,
  freshRunState,
  type Restored,
} from "./run_checkpoints.js";
import { StopRequest } from "./stop.js";
import type { Position } from "./checkpoint.js";
import { joinDistributed, type Distributed } from "./distributed.js";

export { NonFiniteLossError, type StepInfo } from "./epoch.js";
export type { EpochInfo } from "./epoch_stats.js";
export type { TrainInput } from "./run_config.js";

export interface TrainCallbacks {
  /** After every training step. */
  onStep?(info: StepInfo): void;
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
  /**
   * Train as one rank of a distributed run (the torchrun environment must be set: `divco
   * launch` sets it). A process launched with WORLD_SIZE in its environment is one anyway.
   */
  distributed?: boolean;
}

export interface TrainResult {
  config: TrainConfig;
  runDir: string;
  status: "completed" | "interrupted";
  epochs: EpochInfo[];
  bestAcc1: number;
  bestEpoch: number;
  position: Position;
  /** This process's rank in a distributed run (rank 0 wrote the run directory); absent otherwise. */
  rank?: number;
}

/** What a process writes into the run directory. */
export interface RunFiles {
  log: Pick<EpochLog, "write">;
  checkpoints: Pick<RunCheckpoints, "saveLast" | "saveEpoch" | "lastMetaPath">;
  close(): void;
}

/**
 * The one place that decides what this process writes: config.json, the epoch log (metrics,
 * TensorBoard, the printed line) and the checkpoints. A single process writes them all; of
 * distributed ranks only rank 0 does (DESIGN.md §7): the others get files that write nothing
 * (`writes` false). Called once everything that can reject the configuration has run, so a
 * failed start leaves no run directory behind to trip over.
 */
export function openRunFiles(
  run: Run,
  startEpoch: number,
  out: NodeJS.WritableStream | null,
  writes = true,
): RunFiles {
  const c = run.config;
  const checkpoints = new RunCheckpoints(checkpointDir(c), run.members, run.optimizer, {
    arch: c.arch,
    split: c.split,
    keepLast: c.keepLast,
  });
  if (!writes) {
    return {
      log: { write: () => {} },
      checkpoints: {
        saveLast: () => {},
        saveEpoch: () => {},
        lastMetaPath: checkpoints.lastMetaPath,
      },
      close: () => {},
    };
  }
  writeRunDirectory(c);
  const log = EpochLog.open(c.runDir, startEpoch, c.epochs, out);
  return { log, checkpoints, close: () => log.close() };
}

export async function train(user: TrainInput, opts: TrainOptions = {}): Promise<TrainResult> {
  const dist = await joinDistributed(user, opts.distributed ?? false, opts.resume ?? false);
  if (!dist) return trainIn(null, user, opts);
  let result: TrainResult;
  try {
    result = await trainIn(dist, user, opts);
  } catch (e) {
    dist.close();
    throw e;
  }
  await dist.finish();
  return result;
}

async function trainIn(
  dist: Distributed | null,
  user: TrainInput,
  opts: TrainOptions,
): Promise<TrainResult> {
  let resume = opts.resume ?? false;
  let c: TrainConfig;
  if (dist) {
    ({ config: c, resume } = await dist.agreeOnConfig(user, resume));
    await dist.connect(c);
  } else c = resolveRunConfig(user, resume);
  const run = await buildRun(c, dist?.placement(c));
  // Of distributed ranks only rank 0 prints, as it alone writes.
  const out =
    opts.progress === "quiet" || (dist && !dist.writes) ? null : (opts.progress ?? process.stderr);
  let files: RunFiles | undefined;
  let stop: StopRequest | undefined;
  let steps: StepRunner | undefined;
  try {
    const { state, partialEpoch }: Restored = dist
      ? await dist.start(run, resume)
      : resume
        ? restoreLast(checkpointDir(c), run.members, run.optimizer)
        : { state: freshRunState() };
    files = openRunFiles(run, state.position.epoch, out, dist?.writes ?? true);
    if (dist) out?.write(dist.describe(run));
    stop = new StopRequest({ signal: opts.signal, handleSigint: opts.handleSigint, out });
    // Started after the checkpoint is restored: concurrent workers compute on these very tensors.
    const distSteps = dist?.startSteps(run, stop);
    steps = distSteps ?? (await startStepRunner(run));
    const ctx: EpochContext = {
      run,
      steps,
      state,
      checkpoints: files.checkpoints,
      // Distributed ranks stop together, after the step at which any of them was asked to.
      stop: distSteps?.stop ?? stop,
      out,
      onStep: opts.callbacks?.onStep,
      beforeSave: dist ? () => dist.beforeSave(run) : undefined,
    };
    const epochs: EpochInfo[] = [];
    let status: TrainResult["status"] = "completed";
    for (let epoch = state.position.epoch; epoch < c.epochs; epoch++) {
      const sums = resumedSums(c.split, state.position.batchIndex, partialEpoch);
      const trained = await trainOneEpoch(ctx, epoch, sums);
      if (trained.status === "stopped") {
        status = "interrupted";
        break;
      }
      const evaluated = dist ? await dist.validate(run, epoch) : await validate(run, epoch);
      const info = summarizeEpoch(epoch, trained.sums, evaluated, trained.seconds);
      epochs.push(info);
      const row = epochRow(info, state.position.step);
      files.log.write(info, row);
      state.position = { epoch: epoch + 1, batchIndex: 0, step: state.position.step };
      await ctx.beforeSave?.();
      files.checkpoints.saveEpoch(state, row, updateBest(state, epoch + 1, info.eval.top1));
      opts.callbacks?.onEpoch?.(info);
      if (ctx.stop.requested) {
        status = epoch + 1 < c.epochs ? "interrupted" : "completed";
        break;
      }
    }
    return {
      config: c,
      runDir: c.runDir,
      status,
      epochs,
      bestAcc1: state.bestAcc1,
      bestEpoch: state.bestEpoch,
      position: state.position,
      ...(dist ? { rank: dist.rank } : {}),
    };
  } finally {
    stop?.dispose();
    await steps?.close();
    files?.close();
    await closeRun(run);
  }
}
