// DropBlock (Ghiasi et al. 2018) as the reference uses it (`model/layers/drop.py`: timm's "fast"
// variant, per sample and per channel, not batch-wise, no noise; REFERENCE.md §2). Training:
// seeds are drawn independently for every element with rate γ, each seed drops the k×k block
// centred on it, and what is kept is rescaled so the batch keeps its scale:
//   y = x · keep · numel(keep) / (Σ keep + 1e-7).
// Evaluation: the identity.
//
// γ = gammaScale · p · H·W / k² / ((W − k + 1)·(H − k + 1)) with k = min(blockSize, H, W), so
// about a fraction p of the map is dropped. Two cases where the reference's layer cannot run
// get a defined behaviour here instead (neither occurs at the crop a network is built for):
// - the reference puts the unclipped block size in the last factor, so a map smaller than the
//   block divides by zero (side = blockSize − 1) or gets a meaningless rate; here k is used;
// - an even k makes the reference's max-pooled mask one row and column larger than the map and
//   its multiply fails; here the mask keeps the map's size (block rows i − k/2 … i + k/2 − 1).
import { Module } from "../module.js";
import { Tensor } from "../../tensor/tensor.js";
import { rand } from "../../tensor/creation.js";
import { noGrad } from "../../tensor/autograd.js";
import { scope } from "../../tensor/scope.js";
import type { Generator } from "../../tensor/random.js";
import * as F from "../functional.js";
import { markChannelAgnostic } from "../fusion.js";

export interface DropBlockOptions {
  /** Side of the dropped square before clipping to the map. */
  blockSize: number;
  /** Multiplies the seed rate γ (the reference passes 1). */
  gammaScale?: number;
  /** Where the seeds come from; libtorch's default generator when absent. */
  generator?: Generator;
}

/** The seed rate γ for a drop probability p on an H×W map (see the header). */
export function dropBlockGamma(
  p: number,
  h: number,
  w: number,
  blockSize: number,
  gammaScale = 1,
): number {
  const k = Math.min(blockSize, h, w);
  return (gammaScale * p * (w * h)) / k ** 2 / ((w - k + 1) * (h - k + 1));
}

/**
 * The training-mode DropBlock of an N×C×H×W tensor with drop probability `p`: a new tensor
 * (the input is not modified). The mask draws from `o.generator` and carries no gradient.
 */
export function dropBlock2d(x: Tensor, p: number, o: DropBlockOptions): Tensor {
  if (x.ndim !== 4) {
    throw new RangeError(`dropBlock2d: expected an N×C×H×W tensor, got shape [${x.shape}]`);
  }
  const [, , h, w] = x.shape;
  const k = Math.min(o.blockSize, h, w);
  const gamma = dropBlockGamma(p, h, w, o.blockSize, o.gammaScale ?? 1);
  using factor = noGrad(() =>
    scope(() => {
      const seeds = rand(x.shape, { dtype: x.dtype, device: x.device, generator: o.generator })
        .lt(gamma)
        .to(x.dtype);
      let dropped = F.maxPool2d(seeds, k, { stride: 1, padding: Math.floor(k / 2) });
      if (k % 2 === 0) dropped = dropped.narrow(2, 0, h).narrow(3, 0, w);
      const keep = dropped.neg().add_(1);
      // numel / (Σ keep + 1e-7), summed in f32 and divided as PyTorch's `int / tensor` does.
      const scale = keep.sum(undefined, false, "f32").add_(1e-7).reciprocal().mul_(keep.numel);
      return keep.mul_(scale.to(x.dtype));
    }),
  );
  return x.mul(factor);
}

/** DropBlock as a layer: `dropBlock2d` in training mode (p > 0), the identity otherwise. */
export class DropBlock2d extends Module {
  readonly blockSize: number;
  readonly gammaScale: number;

  constructor(
    readonly p: number,
    o: Omit<DropBlockOptions, "generator">,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`DropBlock2d: p must be in [0, 1), got ${p}`);
    if (!Number.isInteger(o.blockSize) || o.blockSize < 1) {
      throw new RangeError(
        `DropBlock2d: the block size must be a positive integer, got ${o.blockSize}`,
      );
    }
    this.blockSize = o.blockSize;
    this.gammaScale = o.gammaScale ?? 1;
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropBlock2d(x, this.p, { blockSize: this.blockSize, gammaScale: this.gammaScale });
  }
}

// The identity in evaluation, where fused members run (nn/fusion.ts): a fused forward runs it unchanged.
markChannelAgnostic(DropBlock2d);
