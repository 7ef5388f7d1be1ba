// SyncBN: batch normalisation whose training statistics are those of the global batch — every
// rank's shard — instead of this rank's shard alone. With it, data-parallel training on W ranks
// computes what one process computes on the whole batch (the reference's --sync_bn option).
//
// Each rank computes its shard's per-channel mean and (biased) variance; one all_gather brings
// every rank's (mean, var, count); the global mean and variance are combined from them exactly
// (Chan et al.'s parallel variance), the same way on every rank, and x is normalised with them.
// Backward all-reduces Σdy and Σdy·(x−μ) per channel, since each rank's statistics affect every
// rank's loss. The running statistics are updated as torch.nn.BatchNorm2d does, from the global
// mean and the unbiased global variance, so they agree on every rank. All of it is one native
// autograd node with fused kernels (ProcessGroup.syncBatchNorm): the same arithmetic as
// differentiable tensor ops cost 1.5–1.9× the whole training step.
import { BatchNorm2d, type BatchStatsSync } from "../nn/layers/batchnorm.js";
import type { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import type { ProcessGroup } from "./group.js";

export class SyncBatchStats implements BatchStatsSync {
  constructor(readonly group: ProcessGroup) {}

  normalize(bn: BatchNorm2d, x: Tensor, momentum: number): Tensor {
    return this.group.syncBatchNorm(x, {
      weight: bn.weight,
      bias: bn.bias,
      runningMean: bn.runningMean,
      runningVar: bn.runningVar,
      momentum,
      eps: bn.eps,
    });
  }
}

/**
 * Makes every BatchNorm2d in `module` normalise training batches over `group` (like
 * torch.nn.SyncBatchNorm.convert_sync_batchnorm). Returns how many it converted. A group of one
 * rank changes nothing: the local statistics are the global ones.
 */
export function convertSyncBatchNorm(module: Module, group: ProcessGroup): number {
  if (group.size < 2) return 0;
  const sync = new SyncBatchStats(group);
  let converted = 0;
  module.apply((m) => {
    if (m instanceof BatchNorm2d) {
      m.sync = sync;
      converted++;
    }
  });
  return converted;
}
