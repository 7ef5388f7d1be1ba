// A run's checkpoints: restoring the last one, saving `last` (mid-epoch on a stop request, and
// after every epoch), `best` (the epoch with the best ensemble top-1, as the reference's
// model_best: REFERENCE.md §4) and the last N epochs. Each checkpoint is written atomically by
// checkpoint.ts; copies go through a temporary name too, so a crash leaves every name whole.
import { copyFileSync, existsSync, readdirSync, renameSync } from "node:fs";
import type { Module } from "../nn/module.js";
import type { Optimizer } from "../optim/optimizer.js";
import {
  saveCheckpoint,
  loadCheckpoint,
  removeCheckpoint,
  checkpointPaths,
  type Position,
} from "./checkpoint.js";
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

/**
 * Restores model, optimiser and the default random generator from `dir`'s last checkpoint, when
 * there is one (a run stopped before its first save has none and starts afresh).
 */
export function restoreLast(
  dir: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
): Restored {
  if (!existsSync(checkpointPaths(dir, "last").meta)) return { state: freshRunState() };
  const meta = loadCheckpoint(dir, "last", model, optimizer);
  return {
    state: {
      position: { epoch: meta.epoch, batchIndex: meta.batchIndex, step: meta.step },
      bestAcc1: meta.bestAcc1,
      bestEpoch: meta.bestEpoch,
    },
    partialEpoch: meta.partialEpoch as EpochSums | undefined,
  };
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

const EPOCH_META = /^epoch-(\d{4,})\.json$/;

export class RunCheckpoints {
  constructor(
    readonly dir: string,
    private readonly model: Module,
    private readonly optimizer: Optimizer<{ lr: number }>,
    private readonly o: { arch: string; split: number; keepLast: number },
  ) {}

  /** The last checkpoint's metadata file (named in errors: "the last good checkpoint is …"). */
  get lastMetaPath(): string {
    return checkpointPaths(this.dir, "last").meta;
  }

  /** Saves `last` at `state`, with the last evaluation's metrics and, mid-epoch, the epoch's running sums. */
  saveLast(state: RunState, metrics: Record<string, number>, partialEpoch?: EpochSums): void {
    const { arch, split } = this.o;
    saveCheckpoint(this.dir, "last", this.model, this.optimizer, {
      ...state.position,
      arch,
      split,
      bestAcc1: state.bestAcc1,
      bestEpoch: state.bestEpoch,
      metrics,
      partialEpoch: partialEpoch as never,
    });
  }

  /**
   * After an evaluated epoch (`state.position` already at the next one): saves `last`, copies it
   * to `best` when the epoch `improved` on the best, and keeps the last `keepLast` epochs'
   * checkpoints, removing older ones (all of them, so a keepLast lowered on resume takes effect).
   */
  saveEpoch(state: RunState, row: Record<string, number>, improved: boolean): void {
    this.saveLast(state, row);
    if (improved) this.copy("last", "best");
    const { keepLast } = this.o;
    if (keepLast > 0) {
      const finished = state.position.epoch;
      this.copy("last", epochCheckpointName(finished));
      for (const n of this.keptEpochs())
        if (n <= finished - keepLast) removeCheckpoint(this.dir, epochCheckpointName(n));
    }
  }

  /** Epoch numbers of the kept per-epoch checkpoints, ascending. */
  keptEpochs(): number[] {
    const out: number[] = [];
    for (const f of readdirSync(this.dir)) {
      const m = EPOCH_META.exec(f);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  /** Copies a checkpoint's two files under a new name (tensors first, each via temp + rename). */
  private copy(from: string, to: string): void {
    const a = checkpointPaths(this.dir, from);
    const b = checkpointPaths(this.dir, to);
    for (const [src, dst] of [
      [a.tensors, b.tensors],
      [a.meta, b.meta],
    ]) {
      copyFileSync(src, dst + ".tmp");
      renameSync(dst + ".tmp", dst);
    }
  }
}
