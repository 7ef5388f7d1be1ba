// ResNeSt-101/200/269 (Zhang et al. 2020) as the reference builds them (`model/resnest/`, the
// ResNeSt authors' PyTorch code): the baselines of its ImageNet tables, S = 1 only (its SplitNet
// asserts it, REFERENCE.md §1.2). Radix-2 split attention with cardinality 1 and bottleneck width
// 64 (inner width = planes), a deep stem 3→64→64→128 whose convs are `conv1.0/3/6` followed by
// `bn1` and a 3×3 max-pool (padding 1), avd (a 3×3 average pool after the split-attention conv)
// in the strided first block of stages 2–4 only, and ResNet-D shortcuts that always begin with an
// average pool of the block's stride (a 1×1 pool in layer1, so the keys are downsample.1/.2).
// No dropout, no DropBlock (the constructors leave both off), no zero-γ.
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  AvgPool2d,
  MaxPool2d,
  Sequential,
  ReLU,
  pipe,
  init,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/tensor.js";
import { IMAGENET_ONLY } from "../data/stats.js";
import { register } from "./registry.js";
import { classify, conv1x1, relu } from "./blocks.js";
import { ResNeXStBottleneck } from "./resnexst.js";

export interface ResNeStConfig {
  layers: readonly number[];
  /** Width of the stem's first two convs; the stem's output is twice this (64 → 128). */
  stemWidth: number;
  /** Width per group of the bottlenecks: inner width int(planes·w/64) (64 in ResNeSt). */
  bottleneckWidth: number;
  numClasses: number;
}

/** Stage planes (block output = 4×): fixed in ResNeSt, whatever the stem width. */
const PLANES = [64, 128, 256, 512];

/**
 * ResNeSt's shortcut projection: an average pool of the stride (ceil_mode,
 * count_include_pad=False; a 1×1 pool when the stride is 1), a 1×1 conv and BN.
 */
function avgDown(inPlanes: number, outPlanes: number, stride: number): Module[] {
  return [
    new AvgPool2d(stride, { stride, ceilMode: true, countIncludePad: false }),
    conv1x1(inPlanes, outPlanes),
    new BatchNorm2d(outPlanes),
  ];
}

export class ResNeSt extends Module {
  readonly conv1: Sequential;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d;
  readonly stages: Sequential[];
  readonly fc: Linear;

  constructor(readonly config: ResNeStConfig) {
    super();
    const w = config.stemWidth;
    if (config.layers.length !== PLANES.length) {
      throw new RangeError(`ResNeSt: 4 stages, got ${config.layers.length}`);
    }
    this.conv1 = this.module(
      "conv1",
      new Sequential(
        new Conv2d(3, w, 3, { stride: 2, padding: 1, bias: false }),
        new BatchNorm2d(w),
        new ReLU(true),
        new Conv2d(w, w, 3, { padding: 1, bias: false }),
        new BatchNorm2d(w),
        new ReLU(true),
        new Conv2d(w, 2 * w, 3, { padding: 1, bias: false }),
      ),
    );
    this.bn1 = this.module("bn1", new BatchNorm2d(2 * w));
    this.maxpool = this.module("maxpool", new MaxPool2d(3, { stride: 2, padding: 1 }));
    let inPlanes = 2 * w;
    this.stages = PLANES.map((planes, i) => {
      const stride = i === 0 ? 1 : 2;
      const blocks: Module[] = [];
      for (let b = 0; b < config.layers[i]; b++) {
        const s = b === 0 ? stride : 1;
        const down =
          b === 0 && (s !== 1 || inPlanes !== planes * 4) ? avgDown(inPlanes, planes * 4, s) : null;
        // Cardinality 1, radix 2. avd only where the block is strided: ResNeSt's is_first flag
        // is set on the first block of stages 2–4, which are the strided ones (unlike
        // ResNeXSt's, REFERENCE.md §10.22).
        blocks.push(
          new ResNeXStBottleneck(inPlanes, planes, 1, config.bottleneckWidth, s, down, false),
        );
        inPlanes = planes * 4;
      }
      return this.module(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.fc = this.module("fc", new Linear(inPlanes, config.numClasses));
    // resnest/resnet.py: conv weights N(0, 2/(k²·out)) (kaiming fan-out), BN γ=1 β=0; conv
    // biases (the attention FCs) and the classifier keep PyTorch's defaults.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d)
        init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "relu" });
    }
  }

  forward(x: Tensor): Tensor {
    const features = pipe(x, this.conv1, this.bn1, relu, this.maxpool, ...this.stages);
    return classify(features, this.fc);
  }
}

// [name, layers, ResNeSt's training crop (its README)]. The reference trains them at the crop it
// is given; these are the crops ResNeSt's published numbers (REFERENCE.md §7.3) are for.
const RESNESTS: [string, number[], number][] = [
  ["resnest101", [3, 4, 23, 3], 256],
  ["resnest200", [3, 24, 36, 3], 320],
  ["resnest269", [3, 30, 48, 8], 416],
];
for (const [name, layers, crop] of RESNESTS) {
  register({
    name,
    family: "resnest",
    splits: [1],
    datasets: IMAGENET_ONLY,
    defaultCrop: crop,
    description: `ResNeSt-${name.slice(7)} (ImageNet baseline, S=1 only as in the reference): radix-2 split attention, 64-wide deep stem, avd, ResNet-D shortcuts; default crop ${crop} (ResNeSt's)`,
    member: (o) =>
      new ResNeSt({ layers, stemWidth: 64, bottleneckWidth: 64, numClasses: o.numClasses }),
  });
}

// Its forward reaches channels only through child modules (nn/fusion.ts): a fused copy computes
// all members at once (src/infer/fuse.ts).
markChannelAgnostic(ResNeSt);
