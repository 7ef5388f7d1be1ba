// Shake-Shake and ShakeDrop: stochastic residual mixing whose forward and backward passes use
// different random coefficients (REFERENCE.md §10.20). The reference writes them as custom
// autograd functions; here each is one expression whose gradient is the backward coefficient
// (DESIGN.md §2):   y = β·x + ((α − β)·x).detach()   has value α·x and gradient β.
// Coefficients are drawn per sample from `generator` (a generator of the input's device;
// libtorch's default one when absent).
import { Module } from "../nn/module.js";
import { markChannelAgnostic } from "../nn/fusion.js";
import { noGrad } from "../tensor/autograd.js";
import { rand, zeros } from "../tensor/creation.js";
import type { Generator } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";
import { scope } from "../tensor/scope.js";

/** One uniform draw per sample on [lo, hi), shaped N×1×1×1 to broadcast over C×H×W. */
function perSample(x: Tensor, lo: number, hi: number, generator?: Generator): Tensor {
  const shape = [x.shape[0], ...new Array<number>(x.ndim - 1).fill(1)];
  const u = rand(shape, { dtype: x.dtype, device: x.device, generator });
  if (lo === 0 && hi === 1) return u;
  using unit = u;
  const scaled = noGrad(() => unit.mul(hi - lo));
  return lo === 0 ? scaled : scaled.add_(lo);
}

export interface ShakeOptions {
  training: boolean;
  generator?: Generator;
}

/**
 * Shake-Shake (Gastaldi 2017; REFERENCE.md §10.20): training forward α·a + (1−α)·b with α ~ U[0,1)
 * per sample, backward gradients β and 1−β with an independent β ~ U[0,1) per sample;
 * evaluation 0.5·a + 0.5·b. The inputs stay owned by the caller.
 */
export function shakeShake(a: Tensor, b: Tensor, o: ShakeOptions): Tensor {
  if (!o.training) return a.add(b).mul_(0.5);
  using alpha = perSample(a, 0, 1, o.generator);
  using beta = perSample(a, 0, 1, o.generator);
  using diff = a.sub(b);
  // b + β·(a − b) carries the gradient (β to a, 1 − β to b); the detached term moves the
  // value to b + α·(a − b).
  const y = scope(() => diff.mul(beta).add(b));
  using shift = noGrad(() => scope(() => diff.mul(alpha.sub(beta))));
  return y.add_(shift);
}

export interface ShakeDropOptions extends ShakeOptions {
  /** Probability that the branch is perturbed (the gate is 0). */
  p: number;
  /** Range of the forward coefficient α (the reference's default [−1, 1]). */
  alphaRange?: [number, number];
  /** Range of the backward coefficient β (the reference's [0, 1]). */
  betaRange?: [number, number];
}

/**
 * ShakeDrop (Yamada et al. 2018; REFERENCE.md §10.20). Training: one Bernoulli gate per batch
 * (not per sample) keeps the branch with probability 1 − p; otherwise the forward multiplies
 * each sample by α ~ U[−1, 1] and the backward by β ~ U[0, 1]. Evaluation: (1 − p)·x.
 * Returns `x` itself when the gate keeps the branch unchanged (the caller owns `x`).
 */
export function shakeDrop(x: Tensor, o: ShakeDropOptions): Tensor {
  if (!(o.p >= 0 && o.p <= 1)) throw new RangeError(`shakeDrop: p must be in [0, 1], got ${o.p}`);
  if (!o.training) return x.mul(1 - o.p);
  const gate = scope(() =>
    zeros([1], { dtype: x.dtype, device: x.device })
      .bernoulli_(1 - o.p, o.generator)
      .item(),
  );
  if (gate === 1) return x;
  const [aLo, aHi] = o.alphaRange ?? [-1, 1];
  const [bLo, bHi] = o.betaRange ?? [0, 1];
  using alpha = perSample(x, aLo, aHi, o.generator);
  using beta = perSample(x, bLo, bHi, o.generator);
  const y = x.mul(beta);
  using shift = noGrad(() => scope(() => x.mul(alpha.sub(beta))));
  return y.add_(shift);
}

/**
 * ShakeDrop as a layer with its drop probability p. It has no parameters (the reference's
 * module registers none either). Set `generator` for reproducible draws.
 */
export class ShakeDrop extends Module {
  generator?: Generator;

  constructor(readonly p: number) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`ShakeDrop: p must be in [0, 1], got ${p}`);
  }

  /** May return `x` itself (gate open in training); callers must not dispose twice. */
  forward(x: Tensor): Tensor {
    return shakeDrop(x, { training: this.training, p: this.p, generator: this.generator });
  }
}

// Evaluation multiplies by the constant 1 − p (nn/fusion.ts; fused forwards are eval-only).
markChannelAgnostic(ShakeDrop);
