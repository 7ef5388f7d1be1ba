// The building blocks the families share: 3×3 / 1×1 convolutions, the shortcut projection, the
// basic and bottleneck residual blocks (each with an optional attention slot — SE in senet.ts),
// the residual join, the deep ImageNet stem of SENet/ResNeXSt, the classifier head of every
// family, and the reference's weight initialisation (REFERENCE.md §1.3).
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  AvgPool2d,
  MaxPool2d,
  ReLU,
  Dropout,
  NamedSequential,
  Sequential,
  pipe,
  consume,
  init,
  F,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/index.js";

/** ReLU in place, as a `pipe` step (the reference's `nn.ReLU(inplace=True)`). */
export const relu = (x: Tensor): Tensor => F.relu(x, true);

/** 3×3 convolution, padding 1, no bias (`conv3x3` of the reference's resnet.py). */
export function conv3x3(inPlanes: number, outPlanes: number, stride = 1, groups = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, groups, bias: false });
}

/** 1×1 convolution, no bias. */
export function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/**
 * The shortcut projection of a block whose shape changes (REFERENCE.md §1.3, ResNet-D):
 * stride 1 → [1×1 conv, BN]; stride 2 → [2×2 avg-pool (ceil_mode, count_include_pad=False),
 * 1×1 conv, BN]. Children are numbered like the reference's nn.Sequential, so the keys are
 * `downsample.0.weight` or `downsample.1.weight`.
 */
export function projection(inPlanes: number, outPlanes: number, stride: number): Module[] {
  if (stride === 1) return [conv1x1(inPlanes, outPlanes), new BatchNorm2d(outPlanes)];
  return [
    new AvgPool2d(2, { stride, ceilMode: true, padding: 0, countIncludePad: false }),
    conv1x1(inPlanes, outPlanes),
    new BatchNorm2d(outPlanes),
  ];
}

/** out += shortcut(x), then ReLU in place: the residual join of every ResNet-style block. */
export function addShortcut(out: Tensor, x: Tensor, downsample: Module | null): Tensor {
  if (downsample) {
    using sc = downsample.forward(x);
    out.add_(sc);
  } else {
    out.add_(x);
  }
  return F.relu(out, true);
}

/**
 * An attention module applied to the residual branch before the join, and the name the
 * reference registers it under (SE-ResNet: `se_module`). `build` receives the branch's output
 * channels; it runs after the branch's layers are made, in the reference's order.
 */
export interface AttentionSlot {
  name: string;
  build(channels: number): Module;
}

/** Two 3×3 convolutions (expansion 1); the Wide-ResNets' block. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly attention: Module | null;
  readonly downsample: Sequential | null;

  constructor(
    inPlanes: number,
    planes: number,
    stride: number,
    downsample: Module[] | null,
    attention?: AttentionSlot,
  ) {
    super();
    this.conv1 = this.module("conv1", conv3x3(inPlanes, planes, stride));
    this.bn1 = this.module("bn1", new BatchNorm2d(planes));
    this.conv2 = this.module("conv2", conv3x3(planes, planes));
    this.bn2 = this.module("bn2", new BatchNorm2d(planes));
    this.attention = attention ? this.module(attention.name, attention.build(planes)) : null;
    this.downsample = downsample ? this.module("downsample", new Sequential(...downsample)) : null;
  }

  /** The BN whose γ starts at zero so the block starts as the identity (§1.3). */
  get lastBn(): BatchNorm2d {
    return this.bn2;
  }

  forward(x: Tensor): Tensor {
    const out = pipe(x, this.conv1, this.bn1, relu, this.conv2, this.bn2, this.attention);
    return addShortcut(out, x, this.downsample);
  }
}

export interface BottleneckOptions {
  inPlanes: number;
  /** Output of the 1×1 reduction (conv1). */
  width: number;
  /** Output of the 3×3 convolution (conv2); `width` unless the family says otherwise (SENet-154). */
  width2?: number;
  /** Output of the 1×1 expansion (conv3): planes × 4. */
  outPlanes: number;
  /** On the 3×3 convolution ("ResNet v1.5"). */
  stride: number;
  groups: number;
  downsample: Module[] | null;
  attention?: AttentionSlot;
}

/**
 * 1×1 → 3×3 (stride, groups) → 1×1, each followed by BN (ReLU after the first two), an
 * optional attention module, and the residual join. The family computes the widths (ResNeXt:
 * int(planes·base_width/64)·groups, REFERENCE.md §1.2; SENet-154: 2·g/64·planes and 4·g/64·planes).
 */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly attention: Module | null;
  readonly downsample: Sequential | null;

  constructor(o: BottleneckOptions) {
    super();
    const width2 = o.width2 ?? o.width;
    this.conv1 = this.module("conv1", conv1x1(o.inPlanes, o.width));
    this.bn1 = this.module("bn1", new BatchNorm2d(o.width));
    this.conv2 = this.module("conv2", conv3x3(o.width, width2, o.stride, o.groups));
    this.bn2 = this.module("bn2", new BatchNorm2d(width2));
    this.conv3 = this.module("conv3", conv1x1(width2, o.outPlanes));
    this.bn3 = this.module("bn3", new BatchNorm2d(o.outPlanes));
    this.attention = o.attention
      ? this.module(o.attention.name, o.attention.build(o.outPlanes))
      : null;
    this.downsample = o.downsample
      ? this.module("downsample", new Sequential(...o.downsample))
      : null;
  }

  get lastBn(): BatchNorm2d {
    return this.bn3;
  }

  forward(x: Tensor): Tensor {
    const out = pipe(
      x,
      this.conv1,
      this.bn1,
      relu,
      this.conv2,
      this.bn2,
      relu,
      this.conv3,
      this.bn3,
      this.attention,
    );
    return addShortcut(out, x, this.downsample);
  }
}

/**
 * The deep ImageNet stem of SENet-154 and ResNeXSt, with the reference's names (`layer0.conv1`
 * …): three 3×3 convolutions 3→w (stride 2) → w → out, each with BN and ReLU, then a 3×3
 * max-pool (stride 2, ceil_mode).
 */
export function namedDeepStem(w: number, out: number): NamedSequential {
  return new NamedSequential([
    ["conv1", new Conv2d(3, w, 3, { stride: 2, padding: 1, bias: false })],
    ["bn1", new BatchNorm2d(w)],
    ["relu1", new ReLU(true)],
    ["conv2", new Conv2d(w, w, 3, { padding: 1, bias: false })],
    ["bn2", new BatchNorm2d(w)],
    ["relu2", new ReLU(true)],
    ["conv3", new Conv2d(w, out, 3, { padding: 1, bias: false })],
    ["bn3", new BatchNorm2d(out)],
    ["relu3", new ReLU(true)],
    ["pool", new MaxPool2d(3, { stride: 2, ceilMode: true })],
  ]);
}

const globalAvgPool = (x: Tensor): Tensor => F.adaptiveAvgPool2d(x, 1);
const flatten = (x: Tensor): Tensor => x.flatten(1);

/**
 * The classifier head of every family: global average pool → flatten → dropout (when the
 * network has one) → linear. Frees `features` — a stage output, never a forward's input.
 */
export function classify(features: Tensor, fc: Linear, dropout?: Dropout | null): Tensor {
  return consume(features, globalAvgPool, flatten, dropout, fc);
}

/**
 * The reference's initialisation (REFERENCE.md §1.3; resnet.py / senet.py `__init__`):
 * conv kaiming_normal(fan_out, relu) with bias 0, BN γ=1 β=0, Linear N(0, 1e-3²) with bias 0.
 */
export function initReference(model: Module): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "relu" });
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) init.ones_(m.weight);
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof Linear) {
      init.normal_(m.weight, 0, 1e-3);
      if (m.bias) init.zeros_(m.bias);
    }
  }
}

// Their forward passes reach channels only through child modules (nn/fusion.ts): a fused
// copy computes all members at once (src/infer/fuse.ts).
markChannelAgnostic(BasicBlock, Bottleneck);
