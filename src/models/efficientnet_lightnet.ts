// EfficientNet as the reference's `model/efficientnet.py` ("LightNet++"), the implementation it
// trains on CIFAR: modules `mod1` (stem), `mod2`…`mod8` (stages, blocks `block1`…), `last_feat`,
// `classifier`. CIFAR changes (REFERENCE.md §1.2): stem stride 1 and stages 3 and 6 (index 2
// and 5) stride 1. Regularisers (§2): FC dropout p/√S; in stage j the residual branch gets
// dropout2d with rate (p/√S)·(j+1)/7.
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Dropout,
  Dropout2d,
  NamedSequential,
  SiLU,
  pipe,
  init,
  F,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/tensor.js";
import { classify } from "./blocks.js";
import { makeDivisible, roundRepeats, type EfficientNetSpec } from "./efficientnet_common.js";

// LightNet++'s BN: eps 1e-3, momentum 0.01.
const BN = { eps: 1e-3, momentum: 0.01 };

/** conv (no bias, "same" padding for odd kernels) → BN → swish, under `conv_block`. */
class ConvBlock extends Module {
  readonly conv_block: NamedSequential;
  constructor(
    inCh: number,
    outCh: number,
    kernel: number,
    o: { stride?: number; groups?: number } = {},
  ) {
    super();
    this.conv_block = this.module(
      "conv_block",
      new NamedSequential()
        .add(
          "conv",
          new Conv2d(inCh, outCh, kernel, {
            stride: o.stride ?? 1,
            padding: (kernel - 1) >> 1,
            groups: o.groups ?? 1,
            bias: false,
          }),
        )
        .add("norm", new BatchNorm2d(outCh, BN))
        .add("act", new SiLU()),
    );
  }
  forward(x: Tensor): Tensor {
    return this.conv_block.forward(x);
  }
}

/** Squeeze-and-excitation with 1×1 convs `linear1`/`linear2` under `channel_se`. */
class SEBlock extends Module {
  readonly channel_se: NamedSequential;
  constructor(channels: number, reduced: number) {
    super();
    this.channel_se = this.module(
      "channel_se",
      new NamedSequential()
        .add("linear1", new Conv2d(channels, reduced, 1))
        .add("act", new SiLU())
        .add("linear2", new Conv2d(reduced, channels, 1)),
    );
  }
  forward(x: Tensor): Tensor {
    using gate = pipe(x, globalAvgPool, this.channel_se, F.sigmoid);
    return x.mul(gate);
  }
}

const globalAvgPool = (x: Tensor): Tensor => F.adaptiveAvgPool2d(x, 1);

class MBConvBlock extends Module {
  readonly expansion: ConvBlock | null;
  readonly depth_wise: ConvBlock;
  readonly se_block: SEBlock;
  readonly point_wise: NamedSequential;
  /** Dropout2d on the residual branch (stage j: (p/√S)·(j+1)/7, REFERENCE.md §2), or null. */
  readonly dropout: Dropout2d | null;
  readonly useResidual: boolean;

  constructor(
    inCh: number,
    outCh: number,
    expand: number,
    kernel: number,
    stride: number,
    dropRate: number,
  ) {
    super();
    const hidden = inCh * expand;
    // SE width from the block's input channels (reduction ratio 4, REFERENCE.md §1.2).
    const reduced = Math.max(1, Math.trunc(inCh / 4));
    this.useResidual = inCh === outCh && stride === 1;
    this.expansion = expand !== 1 ? this.module("expansion", new ConvBlock(inCh, hidden, 1)) : null;
    this.depth_wise = this.module(
      "depth_wise",
      new ConvBlock(hidden, hidden, kernel, { stride, groups: hidden }),
    );
    this.se_block = this.module("se_block", new SEBlock(hidden, reduced));
    this.point_wise = this.module(
      "point_wise",
      new NamedSequential()
        .add("conv", new Conv2d(hidden, outCh, 1, { bias: false }))
        .add("norm", new BatchNorm2d(outCh, BN)),
    );
    this.dropout =
      this.useResidual && dropRate > 0 ? this.module("dropout", new Dropout2d(dropRate)) : null;
  }

  forward(x: Tensor): Tensor {
    const h = pipe(
      x,
      this.expansion,
      this.depth_wise,
      this.se_block,
      this.point_wise,
      this.dropout,
    );
    return this.useResidual ? h.add_(x) : h;
  }
}

/** The in-block dropout rates derive from the FC dropout (REFERENCE.md §2). */
export interface LightNetConfig extends EfficientNetSpec {
  /** Stem stride (1 on CIFAR, 2 on ImageNet). */
  stemStride: number;
}

export class LightNetEfficientNet extends Module {
  readonly mod1: ConvBlock;
  readonly stages: NamedSequential[] = [];
  readonly last_feat: ConvBlock;
  readonly dropout: Dropout | null;
  readonly classifier: Linear;
  readonly lastChannels: number;

  constructor(readonly config: LightNetConfig) {
    super();
    const { width, divisor } = config;
    // LightNet++ leaves channels as they are when the width coefficient is 1.
    const filters = (c: number) => (width === 1.0 ? c : makeDivisible(c * width, divisor));
    let inCh = filters(config.stem);
    this.mod1 = this.module("mod1", new ConvBlock(3, inCh, 3, { stride: config.stemStride }));
    config.stages.forEach((st, j) => {
      const outCh = filters(st.c);
      const dropRate = config.dropout ? (config.dropout * (j + 1)) / config.stages.length : 0;
      const stage = new NamedSequential();
      for (let b = 0; b < roundRepeats(st.n, config.depth); b++) {
        stage.add(
          `block${b + 1}`,
          new MBConvBlock(inCh, outCh, st.t, st.k, b === 0 ? st.s : 1, dropRate),
        );
        inCh = outCh;
      }
      this.stages.push(this.module(`mod${j + 2}`, stage));
    });
    this.lastChannels = filters(config.head);
    this.last_feat = this.module("last_feat", new ConvBlock(inCh, this.lastChannels, 1));
    this.dropout = config.dropout > 0 ? this.module("dropout", new Dropout(config.dropout)) : null;
    this.classifier = this.module("classifier", new Linear(this.lastChannels, config.numClasses));
    // Init (REFERENCE.md §1.3): conv kaiming_normal(fan_out) with bias 0, BN γ=1 β=0,
    // FC U(±1/√out) with bias 0.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "leakyRelu", a: 0 });
        if (m.bias) init.zeros_(m.bias);
      }
    }
    const range = 1 / Math.sqrt(config.numClasses);
    init.uniform_(this.classifier.weight, -range, range);
    init.zeros_(this.classifier.bias!);
  }

  forward(x: Tensor): Tensor {
    const features = pipe(x, this.mod1, ...this.stages, this.last_feat);
    return classify(features, this.classifier, this.dropout);
  }
}

// Their forward passes reach channels only through child modules (nn/fusion.ts): a fused
// copy computes all members at once (src/infer/fuse.ts).
markChannelAgnostic(ConvBlock, SEBlock, MBConvBlock, LightNetEfficientNet);
