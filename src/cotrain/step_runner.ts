// How a run executes its co-training steps, chosen once per run. Every way computes the same
// step (REFERENCE.md §3: member i on view i, Σ CE + w·cot, one optimiser); they differ only in
// where the members' forward and backward run:
//   sequential  the members one after another on this thread (step.ts: coTrainStep);
//   concurrent  the members on worker threads, loss and optimiser here (concurrent.ts);
//   data-parallel, member-parallel  over several processes (dist_steps.ts, distributed.ts).
// A new way (say, the S members fused into one network) is one more StepRunner and one more
// branch in startStepRunner; the training epoch does not change.
import type { Members } from "../models/members.js";
import type { Optimizer } from "../optim/optimizer.js";
import type { Batch } from "../data/loader.js";
import { scope } from "../tensor/scope.js";
import { coTrainStep, coTrainStepConcurrent, type StepOptions, type StepResult } from "./step.js";
import { ConcurrentMembers } from "./concurrent.js";
import type { Run } from "./run.js";

export interface StepRunner {
  /** Which way the members run (for logs and tests). */
  readonly kind: "sequential" | "concurrent" | "data-parallel" | "member-parallel";
  /** One co-training step on `batch`; an optimiser step when due (every gradAccumulation batches, and the epoch's last). */
  step(batch: Batch, epoch: number, lastOfEpoch: boolean): Promise<StepResult>;
  /** Releases what the runner started (worker threads); the members and optimiser stay. Idempotent. */
  close(): Promise<void>;
}

/** The members one after another on this thread. */
export class SequentialSteps implements StepRunner {
  readonly kind = "sequential";

  constructor(
    private readonly members: Members,
    private readonly optimizer: Optimizer<{ lr: number }>,
    private readonly options: StepOptions,
  ) {}

  async step(batch: Batch, epoch: number, lastOfEpoch: boolean): Promise<StepResult> {
    return scope(() =>
      coTrainStep(this.members, this.optimizer, batch, epoch, lastOfEpoch, this.options),
    );
  }

  async close(): Promise<void> {}
}

/** The members' forward and backward on worker threads sharing the members' tensors. */
export class ConcurrentSteps implements StepRunner {
  readonly kind = "concurrent";

  private constructor(
    private readonly pool: ConcurrentMembers,
    private readonly optimizer: Optimizer<{ lr: number }>,
    private readonly options: StepOptions,
  ) {}

  /** Starts the workers on `members`' tensors: start it after a checkpoint is restored into them. */
  static async start(
    members: Members,
    optimizer: Optimizer<{ lr: number }>,
    options: StepOptions,
    threads: number,
  ): Promise<ConcurrentSteps> {
    return new ConcurrentSteps(
      await ConcurrentMembers.start(members, { threads }),
      optimizer,
      options,
    );
  }

  step(batch: Batch, epoch: number, lastOfEpoch: boolean): Promise<StepResult> {
    return coTrainStepConcurrent(
      this.pool,
      this.optimizer,
      batch,
      epoch,
      lastOfEpoch,
      this.options,
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The run's way of executing steps, from its config (`concurrentMembers`). */
export async function startStepRunner(run: Run): Promise<StepRunner> {
  const { members, optimizer, stepOptions, threads } = run;
  if (run.config.concurrentMembers)
    return ConcurrentSteps.start(members, optimizer, stepOptions, threads);
  return new SequentialSteps(members, optimizer, stepOptions);
}
