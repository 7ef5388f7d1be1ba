// Batch normalisation over N×C×H×W (torch.nn.BatchNorm2d: same buffers, names and update rule).
import { Module } from "../module.js";
import { Tensor } from "../../tensor/tensor.js";
import { ones, zeros } from "../../tensor/creation.js";
import { batchNorm } from "../functional.js";
import { noGrad } from "../../tensor/autograd.js";

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the newest batch in the running statistics; null for a cumulative average. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/**
 * Training-mode normalisation with statistics over more than this process's batch (SyncBN:
 * dist/sync_bn.ts installs one on every BatchNorm2d of a data-parallel model).
 */
export interface BatchStatsSync {
  normalize(bn: BatchNorm2d, x: Tensor, momentum: number): Tensor;
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  /** When set, training batches are normalised with statistics shared across processes. */
  sync: BatchStatsSync | null = null;

  constructor(
    readonly numFeatures: number,
    o: BatchNormOptions = {},
  ) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    const affine = o.affine ?? true;
    const track = o.trackRunningStats ?? true;
    this.weight = this.param("weight", affine ? ones([numFeatures]) : null);
    this.bias = this.param("bias", affine ? zeros([numFeatures]) : null);
    this.runningMean = this.buffer("running_mean", track ? zeros([numFeatures]) : null);
    this.runningVar = this.buffer("running_var", track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.buffer(
      "num_batches_tracked",
      track ? zeros([], { dtype: "i64" }) : null,
    );
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new RangeError(`BatchNorm2d: expected N×C×H×W input, got ${x}`);
    let momentum = this.momentum ?? 0;
    const useBatchStats = this.training || this.runningMean === null;
    if (this.training && this.numBatchesTracked) {
      noGrad(() => this.numBatchesTracked!.add_(1));
      if (this.momentum === null) momentum = 1 / this.numBatchesTracked.item();
    }
    if (this.sync && this.training) return this.sync.normalize(this, x, momentum);
    return batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum,
      eps: this.eps,
    });
  }
}
