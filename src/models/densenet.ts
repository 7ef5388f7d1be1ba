// DenseNet-BC (Huang et al. 2017) for CIFAR/SVHN, as the reference's `model/densenet.py`
// (torchvision's layout: `features.denseblockN.denselayerM.norm1 …`). DenseNet-BC-190 is
// k=40, blocks (31, 31, 31), compression 0.5, bottleneck width 4k. Division (REFERENCE.md §1.2):
// growth rate k_S = int(2k/√S)//2 = floor(k/√S), initial features 2·k_S; the optional
// ShakeDrop on every layer's new features has its final probability divided by √S (§2).
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  NamedSequential,
  AvgPool2d,
  ReLU,
  pipe,
  init,
  catChannels,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Generator } from "../tensor/random.js";
import { CIFAR_LIKE } from "../data/stats.js";
import { register } from "./registry.js";
import { extraProbability } from "./options.js";
import { classify, relu } from "./blocks.js";
import { ShakeDrop } from "./shake.js";

/** Growth rate of one member (REFERENCE.md §1.2: int(k/√S·2)//2, only when S > 1). */
export function dividedGrowth(k: number, split: number): number {
  return split > 1 ? Math.floor(Math.trunc((k / split ** 0.5) * 2) / 2) : k;
}

class DenseLayer extends Module {
  readonly norm1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly norm2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly shake_drop: ShakeDrop | null;

  constructor(inFeatures: number, growth: number, bnSize: number, pShakeDrop: number) {
    super();
    this.norm1 = this.module("norm1", new BatchNorm2d(inFeatures));
    this.conv1 = this.module("conv1", new Conv2d(inFeatures, bnSize * growth, 1, { bias: false }));
    this.norm2 = this.module("norm2", new BatchNorm2d(bnSize * growth));
    this.conv2 = this.module(
      "conv2",
      new Conv2d(bnSize * growth, growth, 3, { padding: 1, bias: false }),
    );
    this.shake_drop = pShakeDrop > 0 ? this.module("shake_drop", new ShakeDrop(pShakeDrop)) : null;
  }

  /** The new features computed from all previous ones (`x` is their concatenation). */
  forward(x: Tensor): Tensor {
    return pipe(x, this.norm1, relu, this.conv1, this.norm2, relu, this.conv2, this.shake_drop);
  }
}

/** Layers named denselayer1 … denselayerN; returns the input concatenated with every layer's output. */
class DenseBlock extends Module {
  readonly layers: DenseLayer[] = [];

  constructor(
    numLayers: number,
    inFeatures: number,
    growth: number,
    bnSize: number,
    baseP: number,
    slopeP: number,
  ) {
    super();
    for (let i = 0; i < numLayers; i++) {
      const layer = new DenseLayer(
        inFeatures + i * growth,
        growth,
        bnSize,
        baseP + slopeP * (i + 1),
      );
      this.layers.push(this.module(`denselayer${i + 1}`, layer));
    }
  }

  forward(x: Tensor): Tensor {
    // One running concatenation: layer i sees [x, f1, …, f(i−1)], exactly the reference's
    // torch.cat(features) input, without keeping a list of separate copies.
    return pipe(x, ...this.layers.map((layer) => (all: Tensor) => this.append(all, layer)));
  }

  private append(all: Tensor, layer: DenseLayer): Tensor {
    using f = layer.forward(all);
    return catChannels([all, f]);
  }
}

/** BN → ReLU → 1×1 conv (compression) → 2×2 average pooling. */
class Transition extends NamedSequential {
  constructor(inFeatures: number, outFeatures: number) {
    super();
    this.add("norm", new BatchNorm2d(inFeatures));
    this.add("relu", new ReLU(true));
    this.add("conv", new Conv2d(inFeatures, outFeatures, 1, { bias: false }));
    this.add("pool", new AvgPool2d(2, { stride: 2 }));
  }
}

export interface DenseNetConfig {
  /** Growth rate k of the undivided network. */
  growth: number;
  blocks: readonly number[];
  split: number;
  numClasses: number;
  compression?: number;
  bnSize?: number;
  /** Final ShakeDrop probability of the undivided network (0 = off, the reference's default). */
  finalShakeDrop?: number;
}

export class DenseNet extends Module {
  readonly features: NamedSequential;
  readonly classifier: Linear;
  readonly growth: number;

  constructor(readonly config: DenseNetConfig) {
    super();
    const { blocks, split } = config;
    const compression = config.compression ?? 0.5;
    const bnSize = config.bnSize ?? 4;
    this.growth = dividedGrowth(config.growth, split);
    const initFeatures = 2 * this.growth;
    // ShakeDrop (REFERENCE.md §2): p_final/√S; block b starts at p·b/B and adds p/ΣL per layer.
    const finalP = (config.finalShakeDrop ?? 0) / split ** 0.5;
    const slope = finalP > 0 ? finalP / blocks.reduce((a, b) => a + b, 0) : 0;

    this.features = this.module("features", new NamedSequential());
    // CIFAR stem: conv3×3 s1, BN, ReLU (no pooling).
    this.features.add("conv0", new Conv2d(3, initFeatures, 3, { padding: 1, bias: false }));
    this.features.add("norm0", new BatchNorm2d(initFeatures));
    this.features.add("relu0", new ReLU(true));
    let nf = initFeatures;
    blocks.forEach((numLayers, i) => {
      this.features.add(
        `denseblock${i + 1}`,
        new DenseBlock(numLayers, nf, this.growth, bnSize, finalP * (i / blocks.length), slope),
      );
      nf += numLayers * this.growth;
      if (i !== blocks.length - 1) {
        const out = Math.trunc(nf * compression);
        this.features.add(`transition${i + 1}`, new Transition(nf, out));
        nf = out;
      }
    });
    this.features.add("norm_final", new BatchNorm2d(nf));
    this.classifier = this.module("classifier", new Linear(nf, config.numClasses));
    // Init (REFERENCE.md §1.3, torchvision's): conv kaiming_normal (fan_in, gain √2), BN γ=1 β=0,
    // FC weight PyTorch's default, bias 0.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d)
        init.kaimingNormal_(m.weight, { mode: "fanIn", nonlinearity: "leakyRelu", a: 0 });
    }
    init.zeros_(this.classifier.bias!);
  }

  setGenerator(g: Generator | undefined): this {
    for (const [, m] of this.namedModules()) if (m instanceof ShakeDrop) m.generator = g;
    return this;
  }

  forward(x: Tensor): Tensor {
    return classify(pipe(x, this.features, relu), this.classifier);
  }
}

register({
  name: "densenet190",
  family: "densenet",
  splits: [1, 2, 4, 8, 16],
  datasets: CIFAR_LIKE,
  description:
    "DenseNet-BC-190 (k=40, blocks 31/31/31), CIFAR/SVHN; growth floor(k/√S) = 40/28/20 for S=1/2/4 (REFERENCE.md §1.2); " +
    "extra.shakeDrop sets the final ShakeDrop probability (default 0), divided by √S",
  member: (o) =>
    new DenseNet({
      growth: 40,
      blocks: [31, 31, 31],
      split: o.split,
      numClasses: o.numClasses,
      finalShakeDrop: extraProbability(o, "shakeDrop", 0),
    }),
});

// The dense concatenation goes through catChannels; everything else through child modules
// (nn/fusion.ts), so a fused copy computes all members at once (src/infer/fuse.ts).
markChannelAgnostic(DenseNet, DenseBlock, DenseLayer, Transition);
