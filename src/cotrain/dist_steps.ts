// The co-training step of a distributed run (REFERENCE.md §3, DESIGN.md §7), in its two ways:
//
//   data-parallel    every rank runs every member on its shard of the batch; the gradients are
//                    averaged by the reducer while backward runs (bucketed, overlapped), so each
//                    rank's optimiser takes the step one process would take on the whole batch.
//   member-parallel  rank m·D+d runs member m on shard d. After the forward, the S members'
//                    logits of a shard are all-gathered; each rank computes the full loss
//                    Σ_j CE(z_j) + w·cot(z_1..z_S) with the other members' logits as constants,
//                    so the gradient reaching its own logits is exactly the single process's
//                    (∂cot/∂z_m depends on the others' values only). Gradients never cross
//                    members; with D > 1 replicas they are averaged within the member.
//
// Both end with one small all-reduce over the world: the step's numbers (so every rank reports
// the global loss and accuracy, and all stop together on a non-finite loss) and the stop flag
// (a Ctrl-C on any rank stops every rank after the same step).
import type { Members } from "../models/members.js";
import type { Module } from "../nn/module.js";
import type { Optimizer } from "../optim/optimizer.js";
import type { Batch } from "../data/loader.js";
import { tensor } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";
import { scope } from "../tensor/scope.js";
import type { ProcessGroup } from "../dist/group.js";
import { GradReducer, backwardOffThread } from "../dist/reducer.js";
import {
  lossTerms,
  maybeStep,
  prepare,
  stepDue,
  stepNumbers,
  type StepOptions,
  type StepResult,
} from "./step.js";
import type { StepRunner } from "./step_runner.js";

/** A stop request as every rank agrees on it: read after each step. */
export interface AgreedStop {
  readonly requested: boolean;
}

export interface DistStepOptions {
  members: Members;
  optimizer: Optimizer<{ lr: number }>;
  options: StepOptions;
  /** All ranks: the numbers and the stop flag are reduced over it. */
  world: ProcessGroup;
  /** Ranks that train the same member(s) on other shards: gradients are averaged over it. */
  dataGroup: ProcessGroup;
  /** Member-parallel: the ranks holding the other members of this shard, and this rank's member. */
  memberGroup: ProcessGroup | null;
  member: number | null;
  /** This process's own stop request (Ctrl-C, AbortSignal). */
  localStop: { readonly requested: boolean };
  /** Whether batch-norm statistics are synchronised (then buffers need no broadcast). */
  syncBn: boolean;
}

/** Disposes every tensor found in `value` (arrays and plain objects, as scope() collects them). */
function disposeAll(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (typeof (value as Tensor).dispose === "function" && "kept" in (value as object)) {
    if (!(value as Tensor).kept) (value as Tensor).dispose();
    return;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) disposeAll(v, seen);
}

export class DistributedSteps implements StepRunner {
  readonly kind: "data-parallel" | "member-parallel";
  private readonly reducer: GradReducer | null;
  /** The module this rank trains: every member, or its one member. */
  private readonly trained: Module;
  private agreedStop = false;
  readonly stop: AgreedStop;

  constructor(private readonly o: DistStepOptions) {
    this.kind = o.member === null ? "data-parallel" : "member-parallel";
    this.trained = o.member === null ? o.members : o.members.models.items[o.member];
    const params = this.trained.parameters().filter((p) => p.requiresGrad);
    this.reducer = o.dataGroup.size > 1 ? GradReducer.create(o.dataGroup, params) : null;
    const agreed = (): boolean => this.agreedStop;
    this.stop = {
      get requested() {
        return agreed();
      },
    };
  }

  async step(batch: Batch, epoch: number, lastOfEpoch: boolean): Promise<StepResult> {
    const { options: so, dataGroup } = this.o;
    // Without SyncBN each shard updates its own running statistics; like DDP's default
    // broadcast_buffers, the first replica's are everyone's before each forward.
    if (!this.o.syncBn && dataGroup.size > 1) {
      const buffers = this.trained.buffers();
      if (buffers.length) await dataGroup.broadcast(buffers, 0);
    }
    const due = stepDue(batch, lastOfEpoch, so);
    const held =
      this.o.member === null ? this.forwardAll(batch, epoch) : await this.forwardOne(batch, epoch);
    try {
      if (this.reducer) await this.reducer.backward(held.terms.scaled, { reduce: due });
      else await backwardOffThread([held.terms.scaled]);
      const numbers = scope(() => stepNumbers(held.logits, held.prepared, held.terms));
      const stepped = scope(() => maybeStep(this.o.optimizer, batch, lastOfEpoch, so));
      return await this.agree({ ...numbers, images: batch.labels.length, stepped });
    } finally {
      disposeAll(held);
    }
  }

  /** Data-parallel: every member on this shard; the loss is this shard's mean (the reducer averages). */
  private forwardAll(batch: Batch, epoch: number) {
    const { members, options: so } = this.o;
    return scope(() => {
      const prepared = prepare(members.split, batch, so);
      const logits = members.forwardEach(prepared.inputs);
      return { prepared, logits, terms: lossTerms(logits, prepared, epoch, so) };
    });
  }

  /** Member-parallel: this rank's member; the others' logits of the same images arrive by all_gather. */
  private async forwardOne(batch: Batch, epoch: number) {
    const { members, options: so, memberGroup } = this.o;
    const m = this.o.member!;
    const own = scope(() => {
      const prepared = prepare(1, batch, so);
      return { prepared, z: members.models.items[m].forward(prepared.inputs[0]) };
    });
    let gathered: Tensor[] = [];
    try {
      gathered = await memberGroup!.allGather(own.z);
      const logits = gathered.map((g, j) => (j === m ? own.z : g));
      const terms = scope(() => lossTerms(logits, own.prepared, epoch, so));
      return { prepared: own.prepared, logits, terms };
    } catch (e) {
      disposeAll(own);
      throw e;
    } finally {
      gathered[m]?.dispose(); // this rank's copy of its own logits: `own.z` is used instead
    }
  }

  /**
   * One all-reduce over the world: sums of the numbers (averaged where they are per-rank
   * means) and of the stop flags. In member-parallel mode the S ranks of a shard computed the
   * same numbers from the same gathered logits, so the extensive ones are divided by S.
   */
  private async agree(r: StepResult): Promise<StepResult> {
    const { world, member, members } = this.o;
    const S = r.memberCorrect.length;
    const perShard = member === null ? 1 : members.split;
    const v = new Float64Array([
      r.loss,
      r.ce,
      r.cot,
      ...r.memberCorrect,
      r.ensembleCorrect,
      r.images,
      this.o.localStop.requested ? 1 : 0,
    ]);
    using t = tensor(v, { device: world.device as "cpu" });
    await world.allReduce([t], "sum");
    const out = t.toArray();
    const n = world.size;
    this.agreedStop = out[S + 5] > 0;
    return {
      ...r,
      loss: out[0] / n,
      ce: out[1] / n,
      cot: out[2] / n,
      memberCorrect: out.slice(3, 3 + S).map((x) => x / perShard),
      ensembleCorrect: out[3 + S] / perShard,
      images: out[4 + S] / perShard,
    };
  }

  async close(): Promise<void> {
    this.reducer?.release();
  }
}
