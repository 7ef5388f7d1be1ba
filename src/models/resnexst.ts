// ResNeXSt: ResNeXt bottlenecks whose grouped 3×3 conv is ResNeSt's split attention (radix 2),
// as the reference's `model/resnexst.py` (ImageNet): deep stem 3→64→64→128 + max-pool, ResNet-D
// shortcuts, avd (a 3×3 average pool after the split-attention conv instead of a strided conv).
// Division (REFERENCE.md §1.2): groups ÷ S; widths, stem and block outputs unchanged; FC
// dropout p/√S (§2). §10.22: every block of stages 2–4 gets the avd pool (stride 2 in the
// first block, a stride-1 smoothing in the others), which the reference does and we copy.
import { Module } from "../nn/module.js";
import { Conv2d } from "../nn/layers/conv.js";
import { BatchNorm2d } from "../nn/layers/batchnorm.js";
import { Linear } from "../nn/layers/linear.js";
import { Sequential } from "../nn/layers/containers.js";
import { MaxPool2d, ReLU } from "../nn/layers/activation.js";
import * as F from "../nn/functional.js";
import * as init from "../nn/init.js";
import type { Tensor } from "../tensor/tensor.js";
import { register } from "./registry.js";

/** nn.Sequential(OrderedDict(...)): named children run in order. */
class NamedSequential extends Sequential {
  add(name: string, m: Module): this {
    this.layers.push(this.module(name, m));
    return this;
  }
}

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
    const c = this.conv.forward(x);
    const h = F.relu(this.bn0.forward(c), true);
    c.dispose();
    const [B, RC, H, W] = h.shape;
    const C = RC / this.radix;
    const splits = h.reshape([B, this.radix, C, H, W]);
    h.dispose();
    const gapSum = splits.sum(1);
    const gap = F.adaptiveAvgPool2d(gapSum, 1);
    gapSum.dispose();
    const a1 = this.fc1.forward(gap);
    gap.dispose();
    const a2 = F.relu(this.bn1.forward(a1), true);
    a1.dispose();
    const logits = this.fc2.forward(a2);
    a2.dispose();
    // RadixSoftmax: channels are ordered (group, radix, c); softmax over the radix.
    const grouped = logits.reshape([B, this.groups, this.radix, -1]);
    logits.dispose();
    const byRadix = grouped.transpose(1, 2);
    grouped.dispose();
    const attn = F.softmax(byRadix, 1);
    byRadix.dispose();
    const weights = attn.reshape([B, this.radix, C, 1, 1]);
    attn.dispose();
    const weighted = splits.mul(weights);
    splits.dispose();
    weights.dispose();
    const out = weighted.sum(1);
    weighted.dispose();
    return out;
  }
}

export class ResNeXStBottleneck extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: SplitAttnConv2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  /** The avd pool after the split-attention conv (it takes the block's stride), or null. */
  readonly avdStride: number | null;

  constructor(
    inplanes: number,
    planes: number,
    groups: number,
    baseWidth: number,
    stride: number,
    downsample: Sequential | null,
    isFirst: boolean,
    radix = 2,
  ) {
    super();
    // Bottleneck inner width int(planes·wpg/64)·groups (REFERENCE.md §1.2 ResNeXt rule).
    const width = Math.trunc(planes * (baseWidth / 64)) * groups;
    const avd = stride > 1 || isFirst;
    this.avdStride = avd ? stride : null;
    this.conv1 = this.module("conv1", new Conv2d(inplanes, width, 1, { bias: false }));
    this.bn1 = this.module("bn1", new BatchNorm2d(width));
    // Split-attention reduction factor 4: attention width max(2·width/4, 32) (REFERENCE.md §1.2).
    this.conv2 = this.module(
      "conv2",
      new SplitAttnConv2d(width, width, avd ? 1 : stride, groups, radix, 4),
    );
    this.conv3 = this.module("conv3", new Conv2d(width, planes * 4, 1, { bias: false }));
    this.bn3 = this.module("bn3", new BatchNorm2d(planes * 4));
    this.downsample = downsample ? this.module("downsample", downsample) : null;
  }

  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    let h = F.relu(this.bn1.forward(a), true);
    a.dispose();
    const s = this.conv2.forward(h);
    h.dispose();
    h = s;
    if (this.avdStride !== null) {
      // AvgPool2d(3, stride, padding=1), zero padding counted (PyTorch's default).
      const p = F.avgPool2d(h, 3, { stride: this.avdStride, padding: 1 });
      h.dispose();
      h = p;
    }
    const c = this.conv3.forward(h);
    h.dispose();
    const out = this.bn3.forward(c);
    c.dispose();
    if (this.downsample) {
      const r = this.downsample.forward(x);
      out.add_(r);
      r.dispose();
    } else {
      out.add_(x);
    }
    return F.relu(out, true);
  }
}

class AvgDown extends Module {
  constructor(readonly stride: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, 2, { stride: this.stride, ceilMode: true, countIncludePad: false });
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
  readonly last_linear: Linear;
  readonly groups: number;
  readonly dropout: number;

  constructor(readonly config: ResNeXStConfig) {
    super();
    // REFERENCE.md §1.2: groups ÷ S (int), stem and widths unchanged.
    this.groups = Math.trunc(config.groups / config.split);
    if (this.groups < 1)
      throw new RangeError(
        `resnexst: ${config.groups} groups cannot be divided by S=${config.split}`,
      );
    const stem = config.stem ?? 64;
    let inplanes = stem * 2;
    // Deep stem: conv3×3 s2 (3→w), conv3×3 (w→w), conv3×3 (w→2w), each + BN + ReLU; max-pool 3×3 s2 (ceil).
    this.layer0 = this.module(
      "layer0",
      new NamedSequential()
        .add("conv1", new Conv2d(3, stem, 3, { stride: 2, padding: 1, bias: false }))
        .add("bn1", new BatchNorm2d(stem))
        .add("relu1", new ReLU(true))
        .add("conv2", new Conv2d(stem, stem, 3, { padding: 1, bias: false }))
        .add("bn2", new BatchNorm2d(stem))
        .add("relu2", new ReLU(true))
        .add("conv3", new Conv2d(stem, inplanes, 3, { padding: 1, bias: false }))
        .add("bn3", new BatchNorm2d(inplanes))
        .add("relu3", new ReLU(true))
        .add("pool", new MaxPool2d(3, { stride: 2, ceilMode: true })),
    );
    const makeLayer = (
      planes: number,
      blocks: number,
      stride: number,
      isFirst: boolean,
    ): Sequential => {
      let down: Sequential | null = null;
      if (stride !== 1 || inplanes !== planes * 4) {
        // ResNet-D shortcut: 2×2 average pool (ceil, padding not counted) then 1×1 conv + BN.
        down =
          stride === 1
            ? new Sequential(
                new Conv2d(inplanes, planes * 4, 1, { bias: false }),
                new BatchNorm2d(planes * 4),
              )
            : new Sequential(
                new AvgDown(stride),
                new Conv2d(inplanes, planes * 4, 1, { bias: false }),
                new BatchNorm2d(planes * 4),
              );
      }
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
      for (let i = 1; i < blocks; i++)
        list.push(
          new ResNeXStBottleneck(inplanes, planes, this.groups, config.baseWidth, 1, null, isFirst),
        );
      return new Sequential(...list);
    };
    // REFERENCE.md §10.22: is_first is False for stage 1 and True for every block of stages 2–4.
    this.layer1 = this.module("layer1", makeLayer(stem, config.layers[0], 1, false));
    this.layer2 = this.module("layer2", makeLayer(stem * 2, config.layers[1], 2, true));
    this.layer3 = this.module("layer3", makeLayer(stem * 4, config.layers[2], 2, true));
    this.layer4 = this.module("layer4", makeLayer(stem * 8, config.layers[3], 2, true));
    // REFERENCE.md §2: FC dropout p/√S.
    this.dropout = config.dropout / config.split ** 0.5;
    this.last_linear = this.module("last_linear", new Linear(stem * 8 * 4, config.numClasses));
    // Init (REFERENCE.md §1.3): conv kaiming_normal(fan_out, relu) with bias 0, BN γ=1 β=0
    // (no zero-γ on the last BN), FC N(0, 1e-3²) with bias 0.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "relu" });
        if (m.bias) init.zeros_(m.bias);
      }
    }
    init.normal_(this.last_linear.weight, 0, 1e-3);
    init.zeros_(this.last_linear.bias!);
  }

  forward(x: Tensor): Tensor {
    let h = this.layer0.forward(x);
    for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) {
      const next = layer.forward(h);
      h.dispose();
      h = next;
    }
    const pooled = F.adaptiveAvgPool2d(h, 1);
    h.dispose();
    let flat = pooled.flatten(1);
    pooled.dispose();
    if (this.training && this.dropout > 0) {
      const dropped = F.dropout(flat, this.dropout, true);
      flat.dispose();
      flat = dropped;
    }
    const out = this.last_linear.forward(flat);
    flat.dispose();
    return out;
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
    datasets: ["imagenet"],
    description: `ResNeXSt-${layers.length === 4 && layers[2] === 23 ? 101 : 50} ${groups}x${baseWidth}d (ImageNet): radix-2 split attention, avd, groups ÷ S, FC dropout ${dropout}÷√S (REFERENCE §1.2, §2, §10.22); ${paper}`,
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
  "used with RandAugment m9 (REFERENCE §6.3)",
);
