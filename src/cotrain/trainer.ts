// The training loop (DESIGN.md §6, REFERENCE.md §3.3) as named phases, each testable alone:
//   claimRun          here                the run directory's lock; where a resume continues;
//                                         the new or resumed config (run_lock.ts, resume.ts,
//                                         run_config.ts: reads only, besides the lock)
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
import type { TrainConfig } from "./config.js";
import {
  assertNoRunIn,
  assertResumable,
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
  restoreCheckpoint,
  resumedSums,
  updateBest,
  freshRunState,
  type Restored,
  type RunState,
} from "./run_checkpoints.js";
import { planResume, repairRunDir, type CheckpointStatus, type ResumePlan } from "./resume.js";
import { claimRunDir, type RunDirClaim } from "./run_lock.js";
import { StopRequest } from "./stop.js";
import type { Position } from "./checkpoint.js";
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
}

/** A run directory this process owns, its configuration, and where a resume continues from. */
export interface ClaimedRun {
  config: TrainConfig;
  claim: RunDirClaim;
  /** Absent for a new run. */
  plan?: ResumePlan;
  notes: string[];
}

/**
 * Takes the run directory's lock first (creating it for a new run), then — owning it, so no
 * other process is writing — chooses the checkpoint to resume from and resolves the config
 * against it. A failure releases the lock and removes a directory it created.
 */
export function claimRun(
  user: TrainInput,
  resume: boolean,
  out: NodeJS.WritableStream | null,
): ClaimedRun {
  if (!resume) {
    const { config, notes } = resolveRunConfig(user, false);
    const claim = claimRunDir(config.runDir, { create: true, out });
    try {
      // Another process may have filled the directory between the check and the claim.
      assertNoRunIn(config.runDir);
    } catch (e) {
      claim.release();
      throw e;
    }
    return { config, claim, notes };
  }
  assertResumable(user.runDir);
  const claim = claimRunDir(user.runDir, { create: false, out });
  try {
    const plan = planResume(user.runDir);
    const stored = plan.from?.meta.config;
    const { config, notes } = resolveRunConfig(
      user,
      true,
      stored ? { name: plan.from!.name, config: stored } : undefined,
    );
    if (plan.from && !stored)
      plan.notes.push(
        "its checkpoint does not hold the run's configuration (an earlier divco): config.json is used unchecked",
      );
    return { config, claim, plan, notes: [...plan.notes, ...notes] };
  } catch (e) {
    claim.release();
    throw e;
  }
}

/** What a process writes into the run directory. */
export interface RunFiles {
  log: EpochLog;
  checkpoints: RunCheckpoints;
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
 * single process writes them all; with distributed ranks only rank 0 will (DESIGN.md §7), and
 * only rank 0 claims the directory (claimRun). Called once everything that can reject the
 * configuration has run, so a failed start leaves no run directory behind to trip over.
 */
export function openRunFiles(
  run: Run,
  state: RunState,
  out: NodeJS.WritableStream | null,
  plan?: ResumePlan,
): RunFiles {
  const c = run.config;
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
  const resume = opts.resume ?? false;
  const out = opts.progress === "quiet" ? null : (opts.progress ?? process.stderr);
  const { config: c, claim, plan, notes } = claimRun(user, resume, out);
  const say = (lines: string[]) => {
    for (const n of lines) out?.write(`divco: ${n}\n`);
  };
  say(notes);
  let run: Run | undefined;
  let files: RunFiles | undefined;
  let stop: StopRequest | undefined;
  let steps: StepRunner | undefined;
  try {
    run = await buildRun(c, { progress: out });
    const { state, partialEpoch }: Restored = plan?.from
      ? restoreCheckpoint(checkpointDir(c), plan.from.name, run.members, run.optimizer)
      : { state: freshRunState() };
    files = openRunFiles(run, state, out, plan);
    say(files.notes);
    notes.push(...files.notes);
    stop = new StopRequest({ signal: opts.signal, handleSigint: opts.handleSigint, out });
    // Started after the checkpoint is restored: concurrent workers compute on these very tensors.
    steps = await startStepRunner(run);
    const ctx: EpochContext = {
      run,
      steps,
      state,
      checkpoints: files.checkpoints,
      stop,
      out,
      onStep: opts.callbacks?.onStep,
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
      const info = summarizeEpoch(epoch, trained.sums, await validate(run, epoch), trained.seconds);
      epochs.push(info);
      const row = epochRow(info, state.position.step);
      files.log.write(info, row);
      state.position = { epoch: epoch + 1, batchIndex: 0, step: state.position.step };
      files.checkpoints.saveEpoch(state, row, updateBest(state, epoch + 1, info.eval.top1));
      opts.callbacks?.onEpoch?.(info);
      if (stop.requested) {
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
    };
  } finally {
    stop?.dispose();
    await steps?.close();
    files?.close();
    if (run) await closeRun(run);
    // A start that failed before writing anything leaves no directory behind.
    if (files) claim.release();
    else claim.abandon();
  }
}
