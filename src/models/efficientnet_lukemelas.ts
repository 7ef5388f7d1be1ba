// EfficientNet as the reference's `model/efficientnet_pytorch` (lukemelas' port of the
// TensorFlow model), the implementation it trains on ImageNet: `_conv_stem`, `_bn0`,
// `_blocks.N._expand_conv` …, `_conv_head`, `_bn1`, `_fc`. Convolutions pad like TensorFlow's
// "SAME" with the padding fixed at construction for the configured image size (zero padding,
// one pixel more on the bottom/right when the total is odd). PyTorch's default init.
// Regularisers (REFERENCE.md §2): FC dropout p/√S; drop-connect is 0 as SplitNet overrides it
// (a user-given base rate is divided by √S like the dropout).
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Dropout,
  ModuleList,
  pipe,
  F,
  markChannelAgnostic,
} from "../nn/index.js";
import { rand } from "../tensor/creation.js";
import { noGrad } from "../tensor/autograd.js";
import type { Tensor } from "../tensor/tensor.js";
import { classify } from "./blocks.js";
import { makeDivisible, roundRepeats, type EfficientNetSpec } from "./efficientnet_common.js";

// TensorFlow's BN momentum 0.99 is PyTorch's 1 − 0.99; eps 1e-3.
const BN = { eps: 1e-3, momentum: 1 - 0.99 };

/** Output size of a "SAME" convolution: ceil(size / stride). */
const sameOut = (size: number, stride: number) => Math.ceil(size / stride);

/** A bias-optional conv whose TensorFlow "SAME" padding is computed for a fixed input size. */
class StaticSameConv2d extends Conv2d {
  /** [left, right, top, bottom] zero padding, or null when none is needed. */
  readonly samePad: number[] | null;

  constructor(
    inCh: number,
    outCh: number,
    kernel: number,
    o: { stride?: number; groups?: number; bias?: boolean; imageSize: number },
  ) {
    super(inCh, outCh, kernel, {
      stride: o.stride ?? 1,
      groups: o.groups ?? 1,
      bias: o.bias ?? true,
    });
    const s = o.stride ?? 1;
    const total = Math.max((sameOut(o.imageSize, s) - 1) * s + kernel - o.imageSize, 0);
    const lo = total >> 1;
    this.samePad = total > 0 ? [lo, total - lo, lo, total - lo] : null;
  }

  override forward(x: Tensor): Tensor {
    if (!this.samePad) return super.forward(x);
    using padded = F.pad(x, this.samePad);
    return super.forward(padded);
  }
}

/**
 * Drop-connect (stochastic depth per sample): keeps each sample's branch with probability
 * 1 − p and rescales it by 1/(1 − p), as the reference's `drop_connect`.
 */
function dropConnect(x: Tensor, p: number): Tensor {
  const keep = 1 - p;
  using mask = noGrad(() => {
    using r = rand([x.shape[0], 1, 1, 1], { dtype: x.dtype, device: x.device }).add_(keep);
    return r.floor().div_(keep);
  });
  return x.mul(mask);
}

export interface LukemelasBlockArgs {
  inCh: number;
  outCh: number;
  expand: number;
  kernel: number;
  stride: number;
  /** The configured input size of this block (for the static padding). */
  imageSize: number;
}

class MBConvBlock extends Module {
  readonly _expand_conv: StaticSameConv2d | null = null;
  readonly _bn0: BatchNorm2d | null = null;
  readonly _depthwise_conv: StaticSameConv2d;
  readonly _bn1: BatchNorm2d;
  readonly _se_reduce: StaticSameConv2d;
  readonly _se_expand: StaticSameConv2d;
  readonly _project_conv: StaticSameConv2d;
  readonly _bn2: BatchNorm2d;
  readonly skip: boolean;
  /** Drop-connect rate of this block (0: off). */
  dropConnectRate = 0;

  constructor(readonly args: LukemelasBlockArgs) {
    super();
    const { inCh, outCh, expand, kernel, stride, imageSize } = args;
    const hidden = inCh * expand;
    if (expand !== 1) {
      this._expand_conv = this.module(
        "_expand_conv",
        new StaticSameConv2d(inCh, hidden, 1, { bias: false, imageSize }),
      );
      this._bn0 = this.module("_bn0", new BatchNorm2d(hidden, BN));
    }
    this._depthwise_conv = this.module(
      "_depthwise_conv",
      new StaticSameConv2d(hidden, hidden, kernel, {
        stride,
        groups: hidden,
        bias: false,
        imageSize,
      }),
    );
    this._bn1 = this.module("_bn1", new BatchNorm2d(hidden, BN));
    // SE ratio 0.25 of the block's input channels (REFERENCE.md §1.2).
    const squeezed = Math.max(1, Math.trunc(inCh * 0.25));
    this._se_reduce = this.module(
      "_se_reduce",
      new StaticSameConv2d(hidden, squeezed, 1, { imageSize: 1 }),
    );
    this._se_expand = this.module(
      "_se_expand",
      new StaticSameConv2d(squeezed, hidden, 1, { imageSize: 1 }),
    );
    const outSize = sameOut(imageSize, stride);
    this._project_conv = this.module(
      "_project_conv",
      new StaticSameConv2d(hidden, outCh, 1, { bias: false, imageSize: outSize }),
    );
    this._bn2 = this.module("_bn2", new BatchNorm2d(outCh, BN));
    // id_skip is on for every block; the residual needs stride 1 and equal widths.
    this.skip = stride === 1 && inCh === outCh;
  }

  forward(x: Tensor): Tensor {
    const h = pipe(
      x,
      this._expand_conv,
      this._bn0,
      this._expand_conv ? F.silu : null,
      this._depthwise_conv,
      this._bn1,
      F.silu,
      (t) => this.squeezeExcite(t),
      this._project_conv,
      this._bn2,
      this.skip && this.training && this.dropConnectRate > 0
        ? (t) => dropConnect(t, this.dropConnectRate)
        : null,
    );
    return this.skip ? h.add_(x) : h;
  }

  /** t · σ(expand(swish(reduce(avgpool(t))))). */
  private squeezeExcite(t: Tensor): Tensor {
    using gate = pipe(
      t,
      (u) => F.adaptiveAvgPool2d(u, 1),
      this._se_reduce,
      F.silu,
      this._se_expand,
      F.sigmoid,
    );
    return gate.mul(t);
  }
}

export interface LukemelasConfig extends EfficientNetSpec {
  /** Drop-connect base rate of ONE member (already divided); block i uses rate·i/#blocks. */
  dropConnect: number;
  /** The image size the static padding is computed for. */
  imageSize: number;
}

export class LukemelasEfficientNet extends Module {
  readonly _conv_stem: StaticSameConv2d;
  readonly _bn0: BatchNorm2d;
  readonly _blocks: ModuleList<MBConvBlock>;
  readonly _conv_head: StaticSameConv2d;
  readonly _bn1: BatchNorm2d;
  readonly _dropout: Dropout | null;
  readonly _fc: Linear;

  constructor(readonly config: LukemelasConfig) {
    super();
    const { width, divisor } = config;
    // round_filters: always rounded to the divisor (min depth = divisor).
    const filters = (c: number) => makeDivisible(c * width, divisor);
    let size = config.imageSize;
    const stemOut = filters(config.stem);
    this._conv_stem = this.module(
      "_conv_stem",
      new StaticSameConv2d(3, stemOut, 3, { stride: 2, bias: false, imageSize: size }),
    );
    this._bn0 = this.module("_bn0", new BatchNorm2d(stemOut, BN));
    size = sameOut(size, 2);
    this._blocks = this.module("_blocks", new ModuleList<MBConvBlock>());
    let inCh = stemOut;
    for (const st of config.stages) {
      const outCh = filters(st.c);
      const repeats = roundRepeats(st.n, config.depth);
      this._blocks.push(
        new MBConvBlock({ inCh, outCh, expand: st.t, kernel: st.k, stride: st.s, imageSize: size }),
      );
      size = sameOut(size, st.s);
      for (let r = 1; r < repeats; r++) {
        this._blocks.push(
          new MBConvBlock({
            inCh: outCh,
            outCh,
            expand: st.t,
            kernel: st.k,
            stride: 1,
            imageSize: size,
          }),
        );
      }
      inCh = outCh;
    }
    const headOut = filters(config.head);
    this._conv_head = this.module(
      "_conv_head",
      new StaticSameConv2d(inCh, headOut, 1, { bias: false, imageSize: size }),
    );
    this._bn1 = this.module("_bn1", new BatchNorm2d(headOut, BN));
    this._dropout =
      config.dropout > 0 ? this.module("_dropout", new Dropout(config.dropout)) : null;
    this._fc = this.module("_fc", new Linear(headOut, config.numClasses));
    const n = this._blocks.length;
    this._blocks.items.forEach((b, i) => (b.dropConnectRate = (config.dropConnect * i) / n));
  }

  forward(x: Tensor): Tensor {
    const features = pipe(
      x,
      this._conv_stem,
      this._bn0,
      F.silu,
      ...this._blocks,
      this._conv_head,
      this._bn1,
      F.silu,
    );
    return classify(features, this._fc, this._dropout);
  }
}

// Their forward passes reach channels only through child modules (nn/fusion.ts): a fused
// copy computes all members at once (src/infer/fuse.ts). StaticSameConv2d adds only spatial
// padding to Conv2d's forward, so the fused convolution keeps it.
markChannelAgnostic(StaticSameConv2d, MBConvBlock, LukemelasEfficientNet);
