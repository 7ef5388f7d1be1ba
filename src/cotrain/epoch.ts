// One epoch of a run, in two phases: training (the steps with the per-iteration learning rate,
// the running sums, progress, and a checkpoint when a stop is requested mid-epoch) and
// validation (the ensemble and every member on the evaluation set: REFERENCE.md §3.3, §4).
// Training images whose files cannot be decoded stop the epoch (onBadImage "fail", with what to
// do next) or are left out and counted, the count printed once at the end of the epoch.
import { existsSync } from "node:fs";
import { BadImageError } from "../data/decode.js";
import { DataError } from "../data/errors.js";
import type { BadImage } from "../data/image_check.js";
import { Progress } from "../report/progress.js";
import { evaluate, type EvalResult } from "./evaluate.js";
import { addStep, type EpochSums } from "./epoch_stats.js";
import type { RunCheckpoints, RunState } from "./run_checkpoints.js";
import type { StepRunner } from "./step_runner.js";
import type { Run } from "./run.js";

export class NonFiniteLossError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

/** What a training step reports to callbacks. */
export interface StepInfo {
  epoch: number;
  batchIndex: number;
  batches: number;
  lr: number;
  loss: number;
  imagesPerSecond: number;
}

export interface EpochContext {
  run: Run;
  steps: StepRunner;
  /** The run's position (advanced step by step) and best epoch; mutated in place. */
  state: RunState;
  /** Where a mid-epoch stop saves `last`. */
  checkpoints: Pick<RunCheckpoints, "saveLast" | "lastPath">;
  /** Runs before a mid-epoch checkpoint is saved (distributed: brings state to the writing rank). */
  beforeSave?(): Promise<void>;
  /** Read after every step. */
  stop: { readonly requested: boolean };
  /** Where progress goes; null prints nothing. */
  out: NodeJS.WritableStream | null;
  onStep?(info: StepInfo): void;
}

export interface EpochOutcome {
  /** finished: every batch ran. stopped: a stop was requested and `last` saved at `state.position`, mid-epoch. */
  status: "finished" | "stopped";
  sums: EpochSums;
  /** Training seconds of the epoch so far, an interrupted session's time included. */
  seconds: number;
}

/**
 * Trains epoch `epoch` from `state.position.batchIndex` (non-zero when a stopped epoch resumes),
 * adding to `sums` (the interrupted session's, or fresh ones). After each step the event loop
 * gets a turn; when a stop has been requested by then and batches remain, `last` is saved with
 * the running sums and the epoch returns "stopped". A stop requested at the epoch's last batch
 * lets it finish (the caller evaluates and checkpoints it). A non-finite loss throws
 * NonFiniteLossError before anything of that step is recorded.
 */
export async function trainOneEpoch(
  ctx: EpochContext,
  epoch: number,
  sums: EpochSums,
): Promise<EpochOutcome> {
  const { run, steps, state, stop, out } = ctx;
  const { config: c, batches } = run;
  if (state.position.epoch !== epoch)
    throw new RangeError(
      `trainOneEpoch: the run is at epoch ${state.position.epoch}, not ${epoch}`,
    );
  const start = state.position.batchIndex;
  run.members.train();
  const t0 = performance.now();
  const progress = out
    ? new Progress({ total: batches, label: `epoch ${epoch + 1}/${c.epochs}`, stream: out })
    : null;
  // Seconds and images/s of an epoch resumed part-way count the interrupted session's time too.
  const secondsBefore = sums.seconds ?? 0;
  const elapsed = () => secondsBefore + (performance.now() - t0) / 1000;
  progress?.update(start, {});
  let firstSkipped: BadImage | undefined;
  const batchesOf = async function* () {
    try {
      yield* run.trainLoader.epoch(epoch, { batchIndex: start });
    } catch (e) {
      if (e instanceof BadImageError && c.onBadImage === "fail")
        throw badTrainingImage(e, epoch, ctx.checkpoints.lastPath, c.runDir);
      throw e;
    }
  };
  for await (const batch of batchesOf()) {
    const lr = run.schedule.at(epoch, batch.index);
    run.optimizer.setLr(lr);
    const ts = performance.now();
    const r = await steps.step(batch, epoch, batch.index === batches - 1);
    if (!Number.isFinite(r.loss)) {
      const last = ctx.checkpoints.lastPath;
      throw new NonFiniteLossError(
        `the loss became ${r.loss} at epoch ${epoch + 1}, batch ${batch.index + 1} (lr ${lr.toExponential(3)}, CE ${r.ce}, co-training ${r.cot}); ` +
          `training stopped. ${existsSync(last) ? `The last good checkpoint is ${last}` : "No checkpoint was saved yet"}; lower --lr or check the data.`,
      );
    }
    if (r.stepped) state.position.step++;
    addStep(sums, r, lr);
    if (batch.skipped) {
      sums.skipped = (sums.skipped ?? 0) + batch.skipped.length;
      firstSkipped ??= batch.skipped[0];
    }
    const ips = r.images / ((performance.now() - ts) / 1000);
    progress?.update(batch.index + 1, {
      loss: r.loss.toFixed(4),
      lr: lr.toExponential(2),
      "img/s": Math.round(ips),
    });
    ctx.onStep?.({
      epoch,
      batchIndex: batch.index,
      batches,
      lr,
      loss: r.loss,
      imagesPerSecond: ips,
    });
    // Let the event loop run between steps: when the loader has the next batch ready, the
    // `for await` resolves in a microtask and signal handlers (Ctrl-C), timers and GC
    // finalisers would otherwise never get a turn during an epoch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (stop.requested && batch.index + 1 < batches) {
      state.position = { epoch, batchIndex: batch.index + 1, step: state.position.step };
      const seconds = elapsed();
      await ctx.beforeSave?.();
      ctx.checkpoints.saveLast(state, {}, { ...sums, seconds });
      progress?.log(
        `divco: checkpoint saved at epoch ${epoch + 1}, batch ${batch.index + 1}; continue with --resume ${c.runDir}`,
      );
      return { status: "stopped", sums, seconds };
    }
  }
  const seconds = elapsed();
  progress?.done({});
  if (sums.skipped) {
    const example = firstSkipped ? `, e.g. ${firstSkipped.file} (${firstSkipped.kind})` : "";
    out?.write(
      `epoch ${epoch + 1}: skipped ${sums.skipped} training image${sums.skipped > 1 ? "s" : ""} that cannot be decoded${example}; divco data check lists them all\n`,
    );
  }
  return { status: "finished", sums, seconds };
}

/** An undecodable training image with onBadImage "fail": the message says what to do next. */
function badTrainingImage(
  e: BadImageError,
  epoch: number,
  last: string,
  runDir: string,
): DataError {
  const next = existsSync(last)
    ? `continue with divco train --resume ${runDir} --on-bad-image skip`
    : "start again with --on-bad-image skip";
  return new DataError(
    "corrupt",
    `${e.message}. Training stopped in epoch ${epoch + 1}: replace or remove the file (divco data check imagenet lists every bad image), or leave such images out (counted per epoch): ${next}`,
  );
}

/** Evaluates the members and their ensemble (the run's rule) on the evaluation loader after epoch `epoch`. */
export function validate(run: Run, epoch: number): Promise<EvalResult> {
  const c = run.config;
  return evaluate(run.members, run.testLoader, {
    rule: c.ensemble,
    memoryFormat: c.memoryFormat,
    device: c.device,
    epoch,
  });
}
