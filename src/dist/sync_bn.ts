// SyncBN: batch normalisation whose training statistics are those of the global batch — every
// rank's shard — instead of this rank's shard alone. With it, data-parallel training on W ranks
// computes what one process computes on the whole batch (the reference's --sync_bn option).
//
// Each rank computes its shard's per-channel mean and (biased) variance; one differentiable
// all_gather brings every rank's (mean, var, count); the global mean and variance are combined
// from them exactly (Chan et al.'s parallel variance), the same way on every rank. Backward runs
// through the all_gather, whose gradient is all-reduced: each rank's statistics affect every
// rank's loss. The running statistics are updated as torch.nn.BatchNorm2d does, from the global
// mean and the unbiased global variance, so they agree on every rank.
import { BatchNorm2d, type BatchStatsSync } from "../nn/layers/batchnorm.js";
import type { Module } from "../nn/module.js";
import { cat, full } from "../tensor/creation.js";
import { noGrad } from "../tensor/autograd.js";
import type { Tensor } from "../tensor/tensor.js";
import { scope } from "../tensor/scope.js";
import type { ProcessGroup } from "./group.js";

export class SyncBatchStats implements BatchStatsSync {
  constructor(readonly group: ProcessGroup) {}

  normalize(bn: BatchNorm2d, x: Tensor, momentum: number): Tensor {
    return scope(() => {
      const [n, C, h, w] = x.shape;
      const count = n * h * w;
      const local = cat([
        x.mean([0, 2, 3]),
        x.var([0, 2, 3], false),
        full([1], count, { dtype: x.dtype, device: x.device }),
      ]);
      const all = this.group.allGatherWithGrad(local); // [W, 2C+1]
      const means = all.narrow(1, 0, C);
      const vars = all.narrow(1, C, C);
      const counts = all.narrow(1, 2 * C, 1).detach();
      const total = counts.sum().item();
      const weights = counts.div(total);
      const mean = means.mul(weights).sum(0);
      const variance = vars.add(means.sub(mean).pow(2)).mul(weights).sum(0);
      const invstd = variance.add(bn.eps).rsqrt();
      if (bn.runningMean && bn.runningVar) {
        noGrad(() => {
          bn.runningMean!.mul_(1 - momentum).add_(mean.detach().mul(momentum));
          const unbiased = variance.detach().mul(total / Math.max(total - 1, 1));
          bn.runningVar!.mul_(1 - momentum).add_(unbiased.mul(momentum));
        });
      }
      const scale = bn.weight ? invstd.mul(bn.weight) : invstd;
      const y = x.sub(mean.view(1, C, 1, 1)).mul(scale.view(1, C, 1, 1));
      return bn.bias ? y.add(bn.bias.view(1, C, 1, 1)) : y;
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
