// SE-ResNet, SE-ResNeXt and SENet-154/113 as the reference builds them (`model/senet.py`,
// after Cadene's pretrained-models): attribute names layer0.conv1, layerN.i.se_module.fc1,
// last_linear, so the reference's state-dict keys load unchanged.
//
// Division (REFERENCE.md §1.2): groups==1 nets take the stem width from a table per dataset
// and S (CIFAR/SVHN: only S ≤ 4); grouped nets divide the cardinality by S and keep the stem.
// Dropout before the FC is divided by √S (§2). SENet does not zero-init the last BN γ even
// though its constructor takes the flag (§10.23).
import { Module, Conv2d, BatchNorm2d, Linear, Dropout, ReLU, MaxPool2d, Sequential, AdaptiveAvgPool2d, F } from "../nn/index.js";
import type { Tensor } from "../tensor/index.js";
import { register, type BuildOptions, type DatasetKind } from "./registry.js";
import { NamedSequential, addShortcut, classify, conv1x1, initReference, projection } from "./blocks.js";
import { runInOrder } from "../nn/layers/containers.js";

/** Squeeze-and-excitation: x · σ(fc2(relu(fc1(avgpool(x))))), with 1×1 convs (bias) as the FCs. */
export class SEModule extends Module {
  readonly avgPool: AdaptiveAvgPool2d;
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;

  constructor(channels: number, reduction: number) {
    super();
    this.avgPool = this.module("avg_pool", new AdaptiveAvgPool2d(1));
    this.fc1 = this.module("fc1", new Conv2d(channels, Math.floor(channels / reduction), 1));
    this.fc2 = this.module("fc2", new Conv2d(Math.floor(channels / reduction), channels, 1));
  }

  forward(x: Tensor): Tensor {
    const s = this.avgPool.forward(x);
    const a = this.fc1.forward(s);
    s.dispose();
    F.relu(a, true);
    const b = this.fc2.forward(a);
    a.dispose();
    const gate = F.sigmoid(b);
    b.dispose();
    const out = x.mul(gate);
    gate.dispose();
    return out;
  }
}

export type SEBlockKind =
  /** SENet-154/113: inner widths int(2·g/64·planes), int(4·g/64·planes). */
  | "senet"
  /** SE-ResNet: inner width = planes. */
  | "se_resnet"
  /** SE-ResNeXt: inner width = floor(planes·base_width/64)·groups. */
  | "se_resnext";

/** conv1 1×1 → conv2 3×3 (stride, groups) → conv3 1×1 ×4 → SE, plus the shortcut. */
export class SEBottleneck extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly seModule: SEModule;
  readonly downsample: Sequential | null;

  constructor(kind: SEBlockKind, inPlanes: number, planes: number, groups: number, reduction: number, stride: number, downsample: Module[] | null, baseWidth = 4) {
    super();
    let w1: number;
    let w2: number;
    if (kind === "senet") {
      const ratio = groups / 64; // SENet-154's default cardinality is 64
      w1 = Math.trunc(2 * ratio * planes);
      w2 = Math.trunc(4 * ratio * planes);
    } else if (kind === "se_resnext") {
      w1 = w2 = Math.floor(planes * (baseWidth / 64)) * groups;
    } else {
      w1 = w2 = planes;
    }
    this.conv1 = this.module("conv1", conv1x1(inPlanes, w1));
    this.bn1 = this.module("bn1", new BatchNorm2d(w1));
    this.conv2 = this.module("conv2", new Conv2d(w1, w2, 3, { stride, padding: 1, groups, bias: false }));
    this.bn2 = this.module("bn2", new BatchNorm2d(w2));
    this.conv3 = this.module("conv3", conv1x1(w2, planes * 4));
    this.bn3 = this.module("bn3", new BatchNorm2d(planes * 4));
    this.seModule = this.module("se_module", new SEModule(planes * 4, reduction));
    this.downsample = downsample ? this.module("downsample", new Sequential(...downsample)) : null;
  }

  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const b = F.relu(this.bn1.forward(a), true);
    a.dispose();
    const c = this.conv2.forward(b);
    b.dispose();
    const d = F.relu(this.bn2.forward(c), true);
    c.dispose();
    const e = this.conv3.forward(d);
    d.dispose();
    const f = this.bn3.forward(e);
    e.dispose();
    const out = this.seModule.forward(f);
    f.dispose();
    return addShortcut(out, x, this.downsample);
  }
}

export interface SENetConfig {
  block: SEBlockKind;
  layers: number[];
  /** "cifar": conv1 3×3 s1 + BN + ReLU, 3 stages. "imagenet": three 3×3 convs + max-pool (ceil), 4 stages. */
  stem: "cifar" | "imagenet";
  /** Width of the stem's first convs; also the `planes` of layer1. */
  stemWidth: number;
  /** The stem's output: stemWidth, or 2·stemWidth for the 128-channel stems (senet154, _B, senet113). */
  stemOut: number;
  groups: number;
  reduction: number;
  /** Shortcut conv kernel in layers 2–4: 3 (SENet-154, conv+BN) or 1 (2×2 avg-pool + 1×1 conv + BN). */
  downsampleKernel: 1 | 3;
  baseWidth: number;
  numClasses: number;
  /** Dropout before the FC, already divided; 0 = none. */
  dropout: number;
}

export class SENet extends Module {
  readonly layer0: NamedSequential;
  readonly stages: Sequential[];
  readonly dropout: Dropout | null;
  readonly lastLinear: Linear;

  constructor(readonly config: SENetConfig) {
    super();
    const c = config;
    const w = c.stemWidth;
    let strides: number[];
    if (c.stem === "imagenet") {
      this.layer0 = this.module("layer0", new NamedSequential([
        ["conv1", new Conv2d(3, w, 3, { stride: 2, padding: 1, bias: false })], ["bn1", new BatchNorm2d(w)], ["relu1", new ReLU(true)],
        ["conv2", new Conv2d(w, w, 3, { padding: 1, bias: false })], ["bn2", new BatchNorm2d(w)], ["relu2", new ReLU(true)],
        ["conv3", new Conv2d(w, c.stemOut, 3, { padding: 1, bias: false })], ["bn3", new BatchNorm2d(c.stemOut)], ["relu3", new ReLU(true)],
        ["pool", new MaxPool2d(3, { stride: 2, ceilMode: true })],
      ]));
      strides = [1, 2, 2, 2];
    } else {
      if (c.stemOut !== w) throw new RangeError("SENet: the CIFAR stem is a single conv (stemOut must equal stemWidth)");
      this.layer0 = this.module("layer0", new NamedSequential([
        ["conv1", new Conv2d(3, w, 3, { padding: 1, bias: false })], ["bn1", new BatchNorm2d(w)], ["relu1", new ReLU(true)],
      ]));
      strides = [1, 2, 2];
    }
    if (c.layers.length !== strides.length) throw new RangeError(`SENet: a ${c.stem} stem takes ${strides.length} stages, got ${c.layers.length}`);
    let inPlanes = c.stemOut;
    this.stages = c.layers.map((n, i) => {
      const planes = w * 2 ** i;
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) {
        const stride = b === 0 ? strides[i] : 1;
        let down: Module[] | null = null;
        if (stride !== 1 || inPlanes !== planes * 4) {
          // layer1 always uses the 1×1 form; SENet-154 uses a 3×3 conv shortcut in layers 2–4.
          down = i > 0 && c.downsampleKernel === 3
            ? [new Conv2d(inPlanes, planes * 4, 3, { stride, padding: 1, bias: false }), new BatchNorm2d(planes * 4)]
            : projection(inPlanes, planes * 4, stride);
        }
        blocks.push(new SEBottleneck(c.block, inPlanes, planes, c.groups, c.reduction, stride, down, c.baseWidth));
        inPlanes = planes * 4;
      }
      return this.module(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.dropout = c.dropout > 0 ? this.module("dropout", new Dropout(c.dropout)) : null;
    this.lastLinear = this.module("last_linear", new Linear(inPlanes, c.numClasses));
    initReference(this);
  }

  forward(x: Tensor): Tensor {
    return classify(runInOrder(x, [this.layer0, ...this.stages]), this.lastLinear, this.dropout);
  }
}

// ---- division rules (REFERENCE.md §1.2, §2) -------------------------------------------------

/** Stem width of groups==1 SE nets per dataset and S (senet.py `inplanes_dict`, §1.2). */
export const SENET_INPLANES: Record<DatasetKind, Record<number, number>> = {
  imagenet: { 1: 64, 2: 44, 4: 32, 8: 24 },
  cifar10: { 1: 16, 2: 12, 4: 8 },
  cifar100: { 1: 16, 2: 12, 4: 8 },
  svhn: { 1: 16, 2: 12, 4: 8 },
};

/** Dropout before the FC for SENets: p/√S (§2). */
export function seDividedDropout(p: number | undefined, S: number): number {
  return p ? p / Math.sqrt(S) : 0;
}

function dropoutOf(o: BuildOptions, fallback: number | undefined): number | undefined {
  const p = o.extra.dropout;
  if (p === undefined) return fallback;
  if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new RangeError(`dropout must be a number in [0, 1), got ${String(p)}`);
  return p;
}

const CIFAR: readonly DatasetKind[] = ["cifar10", "cifar100", "svhn"];
const IMAGENET: readonly DatasetKind[] = ["imagenet"];

// SE-ResNets (groups 1): SE reduction 16 on ImageNet, 4 on CIFAR/SVHN (§1.2). [name, layers, dataset kind, dropout]
// The CIFAR ones have no dropout (dropout_p=None); the ImageNet ones 0.2.
const SE_RESNETS: [string, number[], "cifar" | "imagenet", number | undefined][] = [
  ["se_resnet110", [12, 12, 12], "cifar", undefined],
  ["se_resnet164", [18, 18, 18], "cifar", undefined],
  ["se_resnet50", [3, 4, 6, 3], "imagenet", 0.2],
  ["se_resnet101", [3, 4, 23, 3], "imagenet", 0.2],
  ["se_resnet152", [3, 8, 36, 3], "imagenet", 0.2],
];
for (const [name, layers, kind, p] of SE_RESNETS) {
  register({
    name, family: "senet", splits: kind === "cifar" ? [1, 2, 4] : [1, 2, 4, 8], datasets: kind === "cifar" ? CIFAR : IMAGENET,
    description: `${kind === "cifar" ? "CIFAR" : "ImageNet"} SE-ResNet-${name.slice(9)} (SE r=${kind === "cifar" ? 4 : 16}; stem width from the §1.2 table)`,
    member: (o) => {
      const w = SENET_INPLANES[o.dataset][o.split];
      return new SENet({
        block: "se_resnet", layers, stem: kind, stemWidth: w, stemOut: w, groups: 1,
        reduction: kind === "cifar" ? 4 : 16, downsampleKernel: 1, baseWidth: 64,
        numClasses: o.numClasses, dropout: seDividedDropout(dropoutOf(o, p), o.split),
      });
    },
  });
}

// Grouped SENets (ImageNet): cardinality ÷ S, stem 64 (§1.2), SE r=16, dropout 0.2/√S.
// [name, block, layers, groups, 128-channel stem, shortcut kernel]
const GROUPED: [string, SEBlockKind, number[], number, boolean, 1 | 3, string][] = [
  ["se_resnext101_64x4d", "se_resnext", [3, 4, 23, 3], 64, false, 1, "ImageNet SE-ResNeXt-101 64x4d"],
  ["se_resnext101_64x4d_B", "se_resnext", [3, 4, 23, 3], 64, true, 1, "ImageNet SE-ResNeXt-101 64x4d with a 128-channel stem"],
  ["senet154", "senet", [3, 8, 36, 3], 64, true, 3, "ImageNet SENet-154 (3×3 conv shortcuts)"],
  ["senet113", "senet", [3, 8, 23, 3], 64, true, 1, "ImageNet SENet-113 (SENet-154 blocks, ResNet-101-like depth, avg-pool shortcuts)"],
];
for (const [name, block, layers, groups, wideStem, kernel, description] of GROUPED) {
  register({
    name, family: "senet", splits: [1, 2, 4, 8], datasets: IMAGENET, description: `${description} (cardinality ${groups}/S)`,
    member: (o) => new SENet({
      block, layers, stem: "imagenet", stemWidth: 64, stemOut: wideStem ? 128 : 64,
      groups: Math.trunc(groups / o.split), reduction: 16, downsampleKernel: kernel, baseWidth: 4,
      numClasses: o.numClasses, dropout: seDividedDropout(dropoutOf(o, 0.2), o.split),
    }),
  });
}
