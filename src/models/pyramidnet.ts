// PyramidNet (Han et al. 2017) with ShakeDrop for CIFAR/SVHN, as the reference's
// `model/pyramidnet.py`: bottleneck blocks whose width grows linearly block by block,
// zero-padded identity shortcuts (2×2 average pooling on strided blocks), and ShakeDrop on
// every residual branch. Division (REFERENCE.md §1.2, §2): the widening rate becomes
// α/(3n·√S) and the final ShakeDrop probability 0.5/√S; the 16-channel stem stays (§10.24).
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Sequential,
  pipe,
  init,
  F,
  padChannelsTo,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/tensor.js";
import { scope } from "../tensor/scope.js";
import type { Generator } from "../tensor/random.js";
import { CIFAR_LIKE } from "../data/stats.js";
import { register } from "./registry.js";
import { extraProbability } from "./options.js";
import { classify, relu } from "./blocks.js";
import { ShakeDrop } from "./shake.js";

/** Python's round(): halves go to the even neighbour (the reference rounds widths with it). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Bottleneck output channels are 4× the block's width. */
const EXPANSION = 4;

export class PyramidBottleneck extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn4: BatchNorm2d;
  readonly shake_drop: ShakeDrop;

  constructor(
    inplanes: number,
    planes: number,
    readonly stride: number,
    pShakeDrop: number,
  ) {
    super();
    this.bn1 = this.module("bn1", new BatchNorm2d(inplanes));
    this.conv1 = this.module("conv1", new Conv2d(inplanes, planes, 1, { bias: false }));
    this.bn2 = this.module("bn2", new BatchNorm2d(planes));
    this.conv2 = this.module(
      "conv2",
      new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false }),
    );
    this.bn3 = this.module("bn3", new BatchNorm2d(planes));
    this.conv3 = this.module("conv3", new Conv2d(planes, planes * EXPANSION, 1, { bias: false }));
    this.bn4 = this.module("bn4", new BatchNorm2d(planes * EXPANSION));
    this.shake_drop = this.module("shake_drop", new ShakeDrop(pShakeDrop));
  }

  forward(x: Tensor): Tensor {
    // Pre-activation order of the reference: BN → conv1 → BN → ReLU → conv2 → BN → ReLU → conv3 → BN.
    const out = pipe(
      x,
      this.bn1,
      this.conv1,
      this.bn2,
      relu,
      this.conv2,
      this.bn3,
      relu,
      this.conv3,
      this.bn4,
      this.shake_drop,
    );
    // The scope frees the pooled/padded shortcut tensors once added (never x itself).
    return scope(() => out.add_(this.shortcut(x, out.shape[1])));
  }

  /**
   * Identity, average-pooled 2×2 (ceil mode) on strided blocks, zero-padded to `channels`
   * (per member in a fused forward: nn/fusion.ts).
   */
  private shortcut(x: Tensor, channels: number): Tensor {
    const pooled = this.stride === 1 ? x : F.avgPool2d(x, 2, { stride: 2, ceilMode: true });
    return padChannelsTo(pooled, channels);
  }
}

export interface PyramidNetConfig {
  /** Depth 9n+2 (bottleneck): n blocks per stage. */
  depth: number;
  /** Total widening α of the undivided network (200 for -272, 270 for -164). */
  alpha: number;
  split: number;
  numClasses: number;
  /** Final ShakeDrop probability of the undivided network (0.5 in the reference). */
  finalShakeDrop?: number;
}

/** One member. Width of block k (k = 1 … 3n): round(16 + k·α/(3n√S)), output ×4. */
export class PyramidNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly bn_final: BatchNorm2d;
  readonly fc: Linear;
  /** Per-block ShakeDrop probabilities, first to last. */
  readonly shakeDropProbs: number[];

  constructor(readonly config: PyramidNetConfig) {
    super();
    const n = Math.trunc((config.depth - 2) / 9);
    const sqrtS = config.split ** 0.5;
    // REFERENCE.md §1.2: addrate = α/(3n·√S), p_L = 0.5/√S, block i gets p_L·(i+1)/(3n).
    const addrate = config.alpha / (3 * n * sqrtS);
    const finalP = (config.finalShakeDrop ?? 0.5) / sqrtS;
    this.shakeDropProbs = Array.from(
      { length: 3 * n },
      (_, i) => 1 - (1 - (finalP / (3 * n)) * (i + 1)),
    );
    const probs = [...this.shakeDropProbs];

    const stem = 16; // never divided (REFERENCE.md §10.24)
    this.conv1 = this.module("conv1", new Conv2d(3, stem, 3, { padding: 1, bias: false }));
    this.bn1 = this.module("bn1", new BatchNorm2d(stem));
    // The width accumulates as a float, exactly as the reference adds addrate block by block.
    let featureDim = stem;
    let inDim = stem;
    const stage = (stride: number): Sequential => {
      const blocks: PyramidBottleneck[] = [];
      featureDim = featureDim + addrate;
      blocks.push(new PyramidBottleneck(inDim, roundHalfEven(featureDim), stride, probs.shift()!));
      for (let i = 1; i < n; i++) {
        const next = featureDim + addrate;
        blocks.push(
          new PyramidBottleneck(
            roundHalfEven(featureDim) * EXPANSION,
            roundHalfEven(next),
            1,
            probs.shift()!,
          ),
        );
        featureDim = next;
      }
      inDim = roundHalfEven(featureDim) * EXPANSION;
      return new Sequential(...blocks);
    };
    this.layer1 = this.module("layer1", stage(1));
    this.layer2 = this.module("layer2", stage(2));
    this.layer3 = this.module("layer3", stage(2));
    this.bn_final = this.module("bn_final", new BatchNorm2d(inDim));
    this.fc = this.module("fc", new Linear(inDim, config.numClasses));
    // Init (REFERENCE.md §1.3): conv N(0, 2/(k²·out)), BN γ=1 β=0, FC PyTorch's default.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        const [out, , kh, kw] = m.weight.shape;
        init.normal_(m.weight, 0, Math.sqrt(2 / (kh * kw * out)));
      }
    }
  }

  /** Sets the generator of every block's ShakeDrop draws. */
  setGenerator(g: Generator | undefined): this {
    for (const [, m] of this.namedModules()) if (m instanceof ShakeDrop) m.generator = g;
    return this;
  }

  // The reference's forward runs only for cifar10/cifar100 (for svhn it returns its input);
  // SVHN takes the same CIFAR path here.
  forward(x: Tensor): Tensor {
    const features = pipe(
      x,
      this.conv1,
      this.bn1,
      this.layer1,
      this.layer2,
      this.layer3,
      this.bn_final,
      relu,
    );
    return classify(features, this.fc);
  }
}

// Any S works (the rule is a formula); these are the values the reference's tables use.
const SPLITS = [1, 2, 4, 8, 16];

function registerPyramid(depth: number, alpha: number): void {
  register({
    name: `pyramidnet${depth}`,
    family: "pyramidnet",
    splits: SPLITS,
    datasets: CIFAR_LIKE,
    description:
      `PyramidNet-${depth} (bottleneck, α=${alpha}) + ShakeDrop, CIFAR/SVHN; widening α/(3n√S), ShakeDrop p_L 0.5/√S, ` +
      `16-channel stem kept (REFERENCE.md §1.2, §10.24). extra.finalShakeDrop overrides p_L of the undivided net`,
    member: (o) =>
      new PyramidNet({
        depth,
        alpha,
        split: o.split,
        numClasses: o.numClasses,
        finalShakeDrop: extraProbability(o, "finalShakeDrop", undefined),
      }),
  });
}

// REFERENCE.md §1.2: α = 270 for PyramidNet-164, 200 for PyramidNet-272.
registerPyramid(164, 270);
registerPyramid(272, 200);

// The channel padding of the shortcut goes through padChannelsTo; everything else through child
// modules (nn/fusion.ts), so a fused copy computes all members at once (src/infer/fuse.ts).
markChannelAgnostic(PyramidNet, PyramidBottleneck);
