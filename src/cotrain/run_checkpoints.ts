// A run's checkpoints: restoring one, saving `last` (mid-epoch on a stop request, and after every
// epoch), `best` (the epoch with the best ensemble top-1, as the reference's model_best:
// REFERENCE.md §4) and the last N epochs. Each checkpoint is one file committed by one rename
// (checkpoint.ts); `best` and the epoch copies are byte copies of `last`, each through a
// temporary file too, so a crash at any point leaves every name whole. The named crash points
// (crash_points.ts) mark each step of that sequence; resume.ts repairs what a crash between
// them leaves unfinished (a `best` or epoch copy not yet made, an old epoch not yet pruned).
import { existsSync, readdirSync } from "node:fs";
import type { Module } from "../nn/module.js";
import type { Optimizer } from "../optim/optimizer.js";
import {
  saveCheckpoint,
  loadCheckpoint,
  removeCheckpoint,
  copyCheckpoint,
  checkpointPaths,
  type CheckpointMeta,
  type Position,
} from "../io/run_checkpoint.js";
import { crashPoint } from "./crash_points.js";
import { emptyEpochSums, type EpochSums } from "./epoch_stats.js";

/** Where a run stands: its position and its best epoch so far (ensemble top-1, numbered from 1; −1 before any). */
export interface RunState {
  position: Position;
  bestAcc1: number;
  bestEpoch: number;
}

export function freshRunState(): RunState {
  return { position: { epoch: 0, batchIndex: 0, step: 0 }, bestAcc1: -1, bestEpoch: -1 };
}

/** A run state from a checkpoint, and the running sums of the epoch it interrupted (if any). */
export interface Restored {
  state: RunState;
  partialEpoch?: EpochSums;
}

/** Restores model, optimiser and the default random generator from checkpoint `name` of `dir`. */
export function restoreCheckpoint(
  dir: string,
  name: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
): Restored {
  const meta = loadCheckpoint(dir, name, model, optimizer);
  return {
    state: {
      position: { epoch: meta.epoch, batchIndex: meta.batchIndex, step: meta.step },
      bestAcc1: meta.bestAcc1,
      bestEpoch: meta.bestEpoch,
    },
    partialEpoch: meta.partialEpoch as EpochSums | undefined,
  };
}

/**
 * Restores from `dir`'s `last` checkpoint, or returns a fresh state when there is none (the
 * trainer chooses among all of a run's checkpoints instead: resume.ts).
 */
export function restoreLast(
  dir: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
): Restored {
  if (!existsSync(checkpointPaths(dir, "last").tensors)) return { state: freshRunState() };
  return restoreCheckpoint(dir, "last", model, optimizer);
}

/** The running sums to continue an epoch with: the interrupted ones when it resumes part-way. */
export function resumedSums(
  split: number,
  startBatch: number,
  partial: EpochSums | undefined,
): EpochSums {
  return startBatch > 0 && partial ? partial : emptyEpochSums(split);
}

/** Records epoch `epochNumber`'s ensemble top-1 in `state` when it beats the best so far; returns whether it did. */
export function updateBest(state: RunState, epochNumber: number, top1: number): boolean {
  if (!(top1 > state.bestAcc1)) return false;
  state.bestAcc1 = top1;
  state.bestEpoch = epochNumber;
  return true;
}

/** The name of epoch N's kept checkpoint. */
export function epochCheckpointName(epochNumber: number): string {
  return `epoch-${String(epochNumber).padStart(4, "0")}`;
}

const EPOCH_FILE = /^epoch-(\d{4,})\.(?:safetensors|json)$/;

/** Epoch numbers of the per-epoch checkpoints in `dir` (either of their files present), ascending. */
export function keptEpochs(dir: string): number[] {
  const out = new Set<number>();
  for (const f of readdirSync(dir)) {
    const m = EPOCH_FILE.exec(f);
    if (m) out.add(Number(m[1]));
  }
  return [...out].sort((a, b) => a - b);
}

export interface RunCheckpointOptions {
  arch: string;
  split: number;
  keepLast: number;
  /** The run's resolved configuration, stored in every checkpoint (a resumed run checks config.json against it). */
  config?: Record<string, unknown>;
}

export class RunCheckpoints {
  private lastMeta: CheckpointMeta | undefined;

  constructor(
    readonly dir: string,
    private readonly model: Module,
    private readonly optimizer: Optimizer<{ lr: number }>,
    private readonly o: RunCheckpointOptions,
  ) {}

  /** The last checkpoint's file (named in errors: "the last good checkpoint is …"). */
  get lastPath(): string {
    return checkpointPaths(this.dir, "last").tensors;
  }

  /** Saves `last` at `state`, with the last evaluation's metrics and, mid-epoch, the epoch's running sums. */
  saveLast(state: RunState, metrics: Record<string, number>, partialEpoch?: EpochSums): void {
    const { arch, split, config } = this.o;
    this.lastMeta = saveCheckpoint(
      this.dir,
      "last",
      this.model,
      this.optimizer,
      {
        ...state.position,
        arch,
        split,
        bestAcc1: state.bestAcc1,
        bestEpoch: state.bestEpoch,
        metrics,
        partialEpoch: partialEpoch as never,
        config,
      },
      { written: () => crashPoint("last:written"), renamed: () => crashPoint("last:renamed") },
    );
  }

  /**
   * After an evaluated epoch (`state.position` already at the next one): saves `last`, copies it
   * to `best` when the epoch `improved` on the best, and keeps the last `keepLast` epochs'
   * checkpoints, removing older ones (all of them, so a keepLast lowered on resume takes effect).
   */
  saveEpoch(state: RunState, row: Record<string, number>, improved: boolean): void {
    this.saveLast(state, row);
    const meta = this.lastMeta!;
    if (improved)
      copyCheckpoint(this.dir, "last", "best", meta, {
        written: () => crashPoint("best:written"),
        renamed: () => crashPoint("best:renamed"),
      });
    if (this.o.keepLast > 0) {
      copyCheckpoint(this.dir, "last", epochCheckpointName(state.position.epoch), meta, {
        written: () => crashPoint("epoch:written"),
        renamed: () => crashPoint("epoch:renamed"),
      });
      this.prune(state.position.epoch);
    }
  }

  /** Removes the epoch checkpoints that fall out of the last `keepLast` once epoch `finished` is kept. */
  prune(finished: number): void {
    for (const n of keptEpochs(this.dir))
      if (n <= finished - this.o.keepLast)
        removeCheckpoint(this.dir, epochCheckpointName(n), () =>
          crashPoint("prune:sidecar-removed"),
        );
  }

  /** Epoch numbers of the kept per-epoch checkpoints, ascending. */
  keptEpochs(): number[] {
    return keptEpochs(this.dir);
  }
}
