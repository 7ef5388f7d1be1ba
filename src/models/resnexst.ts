// ResNeXSt: ResNeXt bottlenecks whose grouped 3×3 conv is ResNeSt's split attention (radix 2),
// as the reference's `model/resnexst.py` (ImageNet): deep stem 3→64→64→128 + max-pool, ResNet-D
// shortcuts, avd (a 3×3 average pool after the split-attention conv instead of a strided conv).
// Division (REFERENCE.md §1.2): groups ÷ S; widths, stem and block outputs unchanged; FC
// dropout p/√S (§2). §10.22: every block of stages 2–4 gets the avd pool (stride 2 in the
// first block, a stride-1 smoothing in the others), which the reference does and we copy.
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Dropout,
  AvgPool2d,
  NamedSequential,
  Sequential,
  pipe,
  F,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/tensor.js";
import { IMAGENET_ONLY } from "../data/stats.js";
import { register } from "./registry.js";
import {
  addShortcut,
  classify,
  conv1x1,
  initReference,
  namedDeepStem,
  projection,
  relu,
} from "./blocks.js";

/**
 * Split-attention conv (ResNeSt, timm's `SplitAttnConv2d`): a grouped conv producing `radix`
 * candidate feature maps, attention weights from their pooled sum (softmax over the radix
 * within each group), and the weighted sum of the candidates.
 */
export class SplitAttnConv2d extends Module {
  readonly conv: Conv2d;
  readonly bn0: BatchNorm2d;
  readonly fc1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly fc2: Conv2d;

  constructor(
    inCh: number,
    readonly outCh: number,
    stride: number,
    readonly groups: number,
    readonly radix: number,
    reduction: number,
  ) {
    super();
    const mid = outCh * radix;
    // REFERENCE.md §1.2: attention width max(in·radix/reduction, 32).
    const attn = Math.max(Math.floor((inCh * radix) / reduction), 32);
    this.conv = this.module(
      "conv",
      new Conv2d(inCh, mid, 3, { stride, padding: 1, groups: groups * radix, bias: false }),
    );
    this.bn0 = this.module("bn0", new BatchNorm2d(mid));
    this.fc1 = this.module("fc1", new Conv2d(outCh, attn, 1, { groups }));
    this.bn1 = this.module("bn1", new BatchNorm2d(attn));
    this.fc2 = this.module("fc2", new Conv2d(attn, mid, 1, { groups }));
  }

  forward(x: Tensor): Tensor {
    using weighted = this.weightedCandidates(x);
    return weighted.sum(1);
  }

  private weightedCandidates(x: Tensor): Tensor {
    using splits = pipe(x, this.conv, this.bn0, relu, (h) => this.byRadix(h));
    using weights = this.attention(splits);
    return splits.mul(weights);
  }

  /** [B, radix·C, H, W] → [B, radix, C, H, W]: the radix candidate maps. */
  private byRadix(h: Tensor): Tensor {
    const [B, RC, H, W] = h.shape;
    return h.reshape([B, this.radix, RC / this.radix, H, W]);
  }

  /** Attention weights [B, radix, C, 1, 1] from the candidates' pooled sum (softmax over the radix). */
  private attention(splits: Tensor): Tensor {
    const [B, , C] = splits.shape;
    return pipe(
      splits,
      (s) => s.sum(1),
      (s) => F.adaptiveAvgPool2d(s, 1),
      this.fc1,
      this.bn1,
      relu,
      this.fc2,
      // RadixSoftmax: channels are ordered (group, radix, c); softmax over the radix.
      (a) => a.reshape([B, this.groups, this.radix, -1]),
      (a) => a.transpose(1, 2),
      (a) => F.softmax(a, 1),
      (a) => a.reshape([B, this.radix, C, 1, 1]),
    );
  }
}

export class ResNeXStBottleneck extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: SplitAttnConv2d;
  /** The avd pool after the split-attention conv (it takes the block's stride), or null. */
  readonly avd_layer: AvgPool2d | null;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(
    inplanes: number,
    planes: number,
    groups: number,
    baseWidth: number,
    stride: number,
    downsample: Module[] | null,
    isFirst: boolean,
    radix = 2,
  ) {
    super();
    // Bottleneck inner width int(planes·wpg/64)·groups (REFERENCE.md §1.2 ResNeXt rule).
    const width = Math.trunc(planes * (baseWidth / 64)) * groups;
    const avd = stride > 1 || isFirst;
    this.conv1 = this.module("conv1", conv1x1(inplanes, width));
    this.bn1 = this.module("bn1", new BatchNorm2d(width));
    // Split-attention reduction factor 4: attention width max(2·width/4, 32) (REFERENCE.md §1.2).
    this.conv2 = this.module(
      "conv2",
      new SplitAttnConv2d(width, width, avd ? 1 : stride, groups, radix, 4),
    );
    // AvgPool2d(3, stride, padding=1), zero padding counted (PyTorch's default).
    this.avd_layer = avd
      ? this.module("avd_layer", new AvgPool2d(3, { stride, padding: 1 }))
      : null;
    this.conv3 = this.module("conv3", conv1x1(width, planes * 4));
    this.bn3 = this.module("bn3", new BatchNorm2d(planes * 4));
    this.downsample = downsample ? this.module("downsample", new Sequential(...downsample)) : null;
  }

  forward(x: Tensor): Tensor {
    const out = pipe(
      x,
      this.conv1,
      this.bn1,
      relu,
      this.conv2,
      this.avd_layer,
      this.conv3,
      this.bn3,
    );
    return addShortcut(out, x, this.downsample);
  }
}

export interface ResNeXStConfig {
  layers: readonly number[];
  /** Cardinality of the undivided network. */
  groups: number;
  /** Width per group. */
  baseWidth: number;
  split: number;
  numClasses: number;
  /** FC dropout of the undivided network (0.0 for -50, 0.1 for -101). */
  dropout: number;
  /** Stem width (64 in the reference; the block widths are stem·[1,2,4,8]). */
  stem?: number;
}

export class ResNeXSt extends Module {
  readonly layer0: NamedSequential;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly dropout: Dropout | null;
  readonly last_linear: Linear;
  readonly groups: number;

  constructor(readonly config: ResNeXStConfig) {
    super();
    // REFERENCE.md §1.2: groups ÷ S (int), stem and widths unchanged.
    this.groups = Math.trunc(config.groups / config.split);
    if (this.groups < 1) {
      throw new RangeError(
        `resnexst: ${config.groups} groups cannot be divided by S=${config.split}`,
      );
    }
    const stem = config.stem ?? 64;
    let inplanes = stem * 2;
    this.layer0 = this.module("layer0", namedDeepStem(stem, inplanes));
    const makeLayer = (
      planes: number,
      blocks: number,
      stride: number,
      isFirst: boolean,
    ): Sequential => {
      // ResNet-D shortcut (REFERENCE.md §1.3) where the shape changes.
      const down =
        stride !== 1 || inplanes !== planes * 4 ? projection(inplanes, planes * 4, stride) : null;
      const list = [
        new ResNeXStBottleneck(
          inplanes,
          planes,
          this.groups,
          config.baseWidth,
          stride,
          down,
          isFirst,
        ),
      ];
      inplanes = planes * 4;
      for (let i = 1; i < blocks; i++) {
        list.push(
          new ResNeXStBottleneck(inplanes, planes, this.groups, config.baseWidth, 1, null, isFirst),
        );
      }
      return new Sequential(...list);
    };
    // REFERENCE.md §10.22: is_first is False for stage 1 and True for every block of stages 2–4.
    this.layer1 = this.module("layer1", makeLayer(stem, config.layers[0], 1, false));
    this.layer2 = this.module("layer2", makeLayer(stem * 2, config.layers[1], 2, true));
    this.layer3 = this.module("layer3", makeLayer(stem * 4, config.layers[2], 2, true));
    this.layer4 = this.module("layer4", makeLayer(stem * 8, config.layers[3], 2, true));
    // REFERENCE.md §2: FC dropout p/√S.
    const p = config.dropout / config.split ** 0.5;
    this.dropout = p > 0 ? this.module("dropout", new Dropout(p)) : null;
    this.last_linear = this.module("last_linear", new Linear(stem * 8 * 4, config.numClasses));
    // REFERENCE.md §1.3 (no zero-γ on the last BN).
    initReference(this);
  }

  forward(x: Tensor): Tensor {
    const features = pipe(x, this.layer0, this.layer1, this.layer2, this.layer3, this.layer4);
    return classify(features, this.last_linear, this.dropout);
  }
}

function registerResNeXSt(
  name: string,
  layers: number[],
  groups: number,
  baseWidth: number,
  dropout: number,
  paper: string,
): void {
  register({
    name,
    family: "resnexst",
    // Groups ÷ S must stay a positive integer.
    splits: [1, 2, 4, 8].filter((s) => groups % s === 0),
    datasets: IMAGENET_ONLY,
    description: `ResNeXSt-${layers.length === 4 && layers[2] === 23 ? 101 : 50} ${groups}x${baseWidth}d (ImageNet): radix-2 split attention, avd, groups ÷ S, FC dropout ${dropout}÷√S (REFERENCE.md §1.2, §2, §10.22); ${paper}`,
    member: (o) =>
      new ResNeXSt({
        layers,
        groups,
        baseWidth,
        split: o.split,
        numClasses: o.numClasses,
        dropout,
      }),
  });
}

// REFERENCE.md §1.2 / §7.3 (checkpoints.md, S=1): 17.8M, 30.5M, 37.1M params.
registerResNeXSt(
  "resnexst50_4x16d",
  [3, 4, 6, 3],
  4,
  16,
  0.0,
  "paper 17.8M params / 4.3 GFLOPs at S=1",
);
registerResNeXSt("resnexst50_8x16d", [3, 4, 6, 3], 8, 16, 0.0, "paper 30.5M / 6.8 GFLOPs at S=1");
registerResNeXSt("resnexst50_4x32d", [3, 4, 6, 3], 4, 32, 0.0, "paper 37.1M / 8.3 GFLOPs at S=1");
registerResNeXSt(
  "resnexst101_8x32d",
  [3, 4, 23, 3],
  8,
  32,
  0.1,
  "used with RandAugment m9 (REFERENCE.md §6.3)",
);

// Their forward passes reach channels only through child modules (nn/fusion.ts). The
// split-attention conv reshapes its channels by radix, so it is not marked: src/infer/fuse.ts
// has its own rule for it.
markChannelAgnostic(ResNeXSt, ResNeXStBottleneck);
