// The training loop (DESIGN.md §6, REFERENCE.md §3.3) as named phases, each testable alone:
//   claimRun          run_claim.ts        the run directory's lock; where a resume continues;
//                                         the new or resumed config (reads only, besides the lock)
//   Distributed       distributed.ts      several processes: agreed config, shards, collectives
//   buildRun          run.ts              members, optimiser, loaders, LR schedule
//   restoreCheckpoint run_checkpoints.ts  model, optimiser, RNG, position from that checkpoint
//   openRunFiles      here                what this process writes: config, repairs, log, checkpoints
//   startStepRunner   step_runner.ts      how the members run, chosen once per run
//   trainOneEpoch     epoch.ts            steps, running sums, progress, a mid-epoch stop
//   validate          epoch.ts            ensemble and members on the evaluation set
//   summarizeEpoch    epoch_stats.ts      the epoch's numbers; epochRow, its metrics row
//   EpochLog          run_log.ts          metrics JSONL/CSV, TensorBoard, the printed line
//   RunCheckpoints    run_checkpoints.ts  last, best, the last N epochs
//   StopRequest       stop.ts             Ctrl-C / AbortSignal
// Resume is bit-exact: a stopped epoch continues from its batch with its running sums.
import { join } from "node:path";
import type { TrainConfig } from "./config.js";
import { checkpointDir, writeRunDirectory, type TrainInput } from "./run_config.js";
import { claimRun, type ClaimedRun } from "./run_claim.js";
import { joinDistributed, type Distributed } from "./distributed.js";
import { buildRun, closeRun, type Run } from "./run.js";
import { startStepRunner, type StepRunner } from "./step_runner.js";
import { trainOneEpoch, validate, type EpochContext, type StepInfo } from "./epoch.js";
import { summarizeEpoch, epochRow, type EpochInfo } from "./epoch_stats.js";
import { EpochLog } from "./run_log.js";
import {
  RunCheckpoints,
  restoreCheckpoint,
  resumedSums,
  updateBest,
  freshRunState,
  type Restored,
  type RunState,
} from "./run_checkpoints.js";
import { repairRunDir, type CheckpointStatus, type ResumePlan } from "./resume.js";
import { StopRequest } from "./stop.js";
import type { Position } from "../io/run_checkpoint.js";
import type { MetricsRow } from "../report/metrics_log.js";

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
  /** What a resume chose, repaired or recovered (also printed as "divco: ..." lines unless quiet). */
  notes: string[];
  /** This process's rank in a distributed run (rank 0 wrote the run directory); absent otherwise. */
  rank?: number;
}

/** What a process writes into the run directory. */
export interface RunFiles {
  log: Pick<EpochLog, "write">;
  checkpoints: Pick<RunCheckpoints, "saveLast" | "saveEpoch" | "lastPath">;
  /** What opening them repaired or recovered. */
  notes: string[];
  close(): void;
}

/** The metrics rows the intact checkpoints saved at an epoch's end hold, by epoch number. */
function checkpointRows(survey: readonly CheckpointStatus[]): Map<number, MetricsRow> {
  const rows = new Map<number, MetricsRow>();
  for (const { meta } of survey)
    if (meta && meta.batchIndex === 0 && meta.metrics?.epoch === meta.epoch)
      rows.set(meta.epoch, meta.metrics);
  return rows;
}

/**
 * The one place that decides what this process writes: config.json, the repairs a resume needs
 * (resume.ts), the epoch log (metrics, TensorBoard, the printed line) and the checkpoints. A
 * single process writes them all; of distributed ranks only rank 0 does (DESIGN.md §7), having
 * claimed the directory (claimRun): the others get files that write nothing (`writes` false).
 * Called once everything that can reject the configuration has run, so a failed start leaves no
 * run directory behind to trip over.
 */
export function openRunFiles(
  run: Run,
  state: RunState,
  out: NodeJS.WritableStream | null,
  plan?: ResumePlan,
  writes = true,
): RunFiles {
  const c = run.config;
  if (!writes) {
    const lastPath = join(checkpointDir(c), "last.safetensors");
    return {
      log: { write: () => {} },
      checkpoints: { saveLast: () => {}, saveEpoch: () => {}, lastPath },
      notes: [],
      close: () => {},
    };
  }
  writeRunDirectory(c);
  const notes = plan ? repairRunDir(c.runDir, plan, state, c.keepLast) : [];
  const log = EpochLog.open(c.runDir, state.position.epoch, c.epochs, out, {
    checkpointRows: plan && checkpointRows(plan.survey),
  });
  notes.push(...log.notes);
  const checkpoints = new RunCheckpoints(checkpointDir(c), run.members, run.optimizer, {
    arch: c.arch,
    split: c.split,
    keepLast: c.keepLast,
    config: c as unknown as Record<string, unknown>,
  });
  return { log, checkpoints, notes, close: () => log.close() };
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
  const progress = opts.progress === "quiet" ? null : (opts.progress ?? process.stderr);
  // This process's claim of the run directory: a single process, or rank 0 of several.
  let claimed: ClaimedRun | null;
  let c: TrainConfig;
  if (dist) ({ config: c, resume, claimed } = await dist.agreeOnConfig(user, resume, progress));
  else {
    claimed = claimRun(user, resume, progress);
    c = claimed.config;
  }
  // Of distributed ranks only rank 0 prints, as it alone writes.
  const out = dist && !dist.writes ? null : progress;
  const say = (lines: string[]) => {
    for (const n of lines) out?.write(`divco: ${n}\n`);
  };
  const notes = claimed?.notes ?? [];
  say(notes);
  const plan = claimed?.plan;
  let run: Run | undefined;
  let files: RunFiles | undefined;
  let stop: StopRequest | undefined;
  let steps: StepRunner | undefined;
  try {
    if (dist) await dist.connect(c);
    run = await buildRun(c, { progress: out, placement: dist?.placement(c) });
    const restore = (r: Run): Restored =>
      plan?.from
        ? restoreCheckpoint(checkpointDir(c), plan.from.name, r.members, r.optimizer)
        : { state: freshRunState() };
    const { state, partialEpoch }: Restored = dist
      ? await dist.start(run, resume, restore)
      : restore(run);
    files = openRunFiles(run, state, out, plan, dist?.writes ?? true);
    say(files.notes);
    notes.push(...files.notes);
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
      beforeSave: dist ? () => dist.beforeSave(run!) : undefined,
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
      notes,
      ...(dist ? { rank: dist.rank } : {}),
    };
  } finally {
    stop?.dispose();
    await steps?.close();
    files?.close();
    if (run) await closeRun(run);
    // A start that failed before writing anything leaves no directory behind.
    if (files) claimed?.claim.release();
    else claimed?.claim.abandon();
  }
}
