// ResNet, Wide-ResNet and ResNeXt as the reference builds them (`model/resnet.py`): one
// network class driven by a plain config, and one short registered factory per variant.
// Attribute names (layer0, layer1.0.conv1, downsample.1, fc) are the reference's, so its
// state-dict keys (`models.0.layer1.0.conv1.weight`, ...) load unchanged.
//
// Division (REFERENCE.md §1.2): groups==1 nets take the stem width from a table per dataset
// and S; CIFAR Wide-ResNets keep a 16-channel stem and shrink the widen factor
// k' = int(max(k/√S + 0.4, 1)); ResNeXts divide the cardinality by S. Dropout before the FC
// is divided by S (§2).
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Dropout,
  ReLU,
  MaxPool2d,
  Sequential,
  pipe,
  init,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/index.js";
import { CIFAR_LIKE, IMAGENET_ONLY, type DatasetKind } from "../data/stats.js";
import { register, type BuildOptions } from "./registry.js";
import type { WidthFactory } from "./divide.js";
import { BasicBlock, Bottleneck, classify, conv3x3, initReference, projection } from "./blocks.js";
import { extraPositiveInt, extraProbability } from "./options.js";

// ---- the network ----------------------------------------------------------------------------

export interface ResNetConfig {
  block: "basic" | "bottleneck";
  /** Blocks per stage: 3 stages on CIFAR/SVHN (no layer4, §1.3), 4 on ImageNet. */
  layers: number[];
  /** "cifar": conv3×3 s1 (3→stem) + BN + ReLU. "deep": 3 convs (3→stem→stem→2·stem) + max-pool (§1.3). */
  stem: "cifar" | "deep";
  /** Output width of the (first) stem conv. */
  stemWidth: number;
  /** `planes` of layer1; layer i has planes·2^(i−1), output planes·expansion. */
  planes: number;
  groups: number;
  /** Width per group of the bottleneck (64 = plain ResNet). */
  baseWidth: number;
  numClasses: number;
  /** Dropout before the FC, already divided; 0 = no dropout layer. */
  dropout: number;
  /** Zero-init the last BN γ of each residual branch (the reference's default). */
  zeroInitResidual: boolean;
}

export class ResNet extends Module {
  readonly layer0: Sequential;
  readonly stages: Sequential[];
  readonly dropout: Dropout | null;
  readonly fc: Linear;

  constructor(readonly config: ResNetConfig) {
    super();
    const c = config;
    const expansion = c.block === "basic" ? BasicBlock.expansion : Bottleneck.expansion;
    let inPlanes: number;
    let strides: number[];
    if (c.stem === "deep") {
      const w = c.stemWidth;
      this.layer0 = this.module(
        "layer0",
        new Sequential(
          new Conv2d(3, w, 3, { stride: 2, padding: 1, bias: false }),
          new BatchNorm2d(w),
          new ReLU(true),
          conv3x3(w, w),
          new BatchNorm2d(w),
          new ReLU(true),
          conv3x3(w, 2 * w),
          new BatchNorm2d(2 * w),
          new ReLU(true),
          new MaxPool2d(3, { stride: 2, padding: 1 }),
        ),
      );
      inPlanes = 2 * w;
      strides = [1, 2, 2, 2];
    } else {
      this.layer0 = this.module(
        "layer0",
        new Sequential(conv3x3(3, c.stemWidth), new BatchNorm2d(c.stemWidth), new ReLU(true)),
      );
      inPlanes = c.stemWidth;
      strides = [1, 2, 2];
    }
    if (c.layers.length !== strides.length) {
      throw new RangeError(
        `ResNet: a ${c.stem} stem takes ${strides.length} stages, got ${c.layers.length}`,
      );
    }
    this.stages = c.layers.map((n, i) => {
      const planes = c.planes * 2 ** i;
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) {
        const stride = b === 0 ? strides[i] : 1;
        const down =
          stride !== 1 || inPlanes !== planes * expansion
            ? projection(inPlanes, planes * expansion, stride)
            : null;
        blocks.push(
          c.block === "basic"
            ? new BasicBlock(inPlanes, planes, stride, down)
            : new Bottleneck({
                inPlanes,
                // ResNeXt inner width int(planes·base_width/64)·groups (REFERENCE.md §1.2).
                width: Math.floor((planes * c.baseWidth) / 64) * c.groups,
                outPlanes: planes * Bottleneck.expansion,
                stride,
                groups: c.groups,
                downsample: down,
              }),
        );
        inPlanes = planes * expansion;
      }
      return this.module(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.dropout = c.dropout > 0 ? this.module("dropout", new Dropout(c.dropout)) : null;
    this.fc = this.module("fc", new Linear(inPlanes, c.numClasses));
    initReference(this);
    if (c.zeroInitResidual) {
      for (const [, m] of this.namedModules())
        if (m instanceof Bottleneck || m instanceof BasicBlock) init.zeros_(m.lastBn.weight!);
    }
  }

  forward(x: Tensor): Tensor {
    return classify(pipe(x, this.layer0, ...this.stages), this.fc, this.dropout);
  }
}

// ---- division rules (REFERENCE.md §1.2) -------------------------------------------------------

/** Stem width of groups==1 ResNets per dataset and S (§1.2 table; resnet.py `inplanes_dict`). */
export const RESNET_INPLANES: Record<DatasetKind, Record<number, number>> = {
  imagenet: { 1: 64, 2: 44, 4: 32, 8: 24 },
  cifar10: { 1: 16, 2: 12, 4: 8, 8: 6, 16: 4 },
  cifar100: { 1: 16, 2: 12, 4: 8, 8: 6, 16: 4 },
  svhn: { 1: 16, 2: 12, 4: 8, 8: 6, 16: 4 },
};

/** CIFAR WRN widen factor of each member: k' = int(max(k/√S + 0.4, 1)) (§1.2). */
export function dividedWidenFactor(k: number, S: number): number {
  return Math.trunc(Math.max(k / Math.sqrt(S) + 0.4, 1));
}

/** ResNeXt cardinality of each member: groups/S (§1.2). */
export function dividedGroups(groups: number, S: number): number {
  const g = Math.trunc(groups / S);
  if (g < 1) throw new RangeError(`cannot divide ${groups} groups into S=${S} members`);
  return g;
}

/** Dropout before the FC for the ResNet family: p/S (§2). */
export function dividedDropout(p: number | undefined, S: number): number {
  return p ? p / S : 0;
}

// ---- CIFAR bottleneck ResNets (§1.3: 3 stages, 9n+2 layers) -----------------------------------

/**
 * The CIFAR bottleneck ResNet with n blocks per stage. Stem width from the §1.2 table
 * (16/12/8/6/4 for S=1/2/4/8/16); no dropout (not in resnet.py's CIFAR allow-list, §2).
 */
export function cifarResNet(
  n: number,
  o: BuildOptions,
  width = RESNET_INPLANES[o.dataset][o.split],
): ResNet {
  return new ResNet({
    block: "bottleneck",
    layers: [n, n, n],
    stem: "cifar",
    stemWidth: width,
    planes: width,
    groups: 1,
    baseWidth: 64,
    numClasses: o.numClasses,
    dropout: 0,
    zeroInitResidual: true,
  });
}

const CIFAR_RESNETS: [string, number, string][] = [
  // resnet29 and resnet56 are not in the reference; the same family at small depth, for CPU experiments.
  [
    "resnet29",
    3,
    "CIFAR bottleneck ResNet-29 (3 blocks/stage; not in the paper, for CPU experiments)",
  ],
  [
    "resnet56",
    6,
    "CIFAR bottleneck ResNet-56 (6 blocks/stage; not in the paper, for CPU experiments)",
  ],
  [
    "resnet110",
    12,
    "CIFAR bottleneck ResNet-110 (12 blocks/stage, 1.17M params on CIFAR-100, §1.4)",
  ],
  [
    "resnet164",
    18,
    "CIFAR bottleneck ResNet-164 (18 blocks/stage, 1.73M params on CIFAR-100, §1.4)",
  ],
];
for (const [name, n, description] of CIFAR_RESNETS) {
  register({
    name,
    family: "resnet",
    splits: [1, 2, 4, 8, 16],
    datasets: CIFAR_LIKE,
    description,
    member: (o) => cifarResNet(n, o, extraPositiveInt(o, "width")),
  });
}

// ---- Wide-ResNets on CIFAR (§1.2: basic blocks, depth 6n+4, stem 16, widen factor k') ---------

/** A CIFAR WRN member with layer1 planes `planes` (= 16·k'; stages planes·[1,2,4]). */
export function cifarWideResNet(
  depth: number,
  planes: number,
  numClasses: number,
  dropout: number,
): ResNet {
  const n = (depth - 4) / 6;
  return new ResNet({
    block: "basic",
    layers: [n, n, n],
    stem: "cifar",
    stemWidth: 16,
    planes,
    groups: 1,
    baseWidth: 64,
    numClasses,
    dropout,
    zeroInitResidual: true,
  });
}

// [name, depth, k, default dropout]. Only wide_resnet40_10 has dropout (p=0.1): wide_resnet52_8
// sets 0.1 but is not in resnet.py's CIFAR dropout allow-list, so it has none (§2).
const CIFAR_WRNS: [string, number, number, number | undefined][] = [
  ["wide_resnet16_8", 16, 8, undefined],
  ["wide_resnet16_12", 16, 12, undefined],
  ["wide_resnet28_10", 28, 10, undefined],
  ["wide_resnet40_10", 40, 10, 0.1],
  ["wide_resnet52_8", 52, 8, undefined],
];
for (const [name, depth, k, p] of CIFAR_WRNS) {
  register({
    name,
    family: "wide_resnet",
    splits: [1, 2, 4, 8],
    datasets: CIFAR_LIKE,
    description: `CIFAR Wide-ResNet-${depth}-${k} (basic blocks, widen factor int(max(${k}/√S + 0.4, 1)))`,
    member: (o) =>
      cifarWideResNet(
        depth,
        extraPositiveInt(o, "width") ?? 16 * dividedWidenFactor(k, o.split),
        o.numClasses,
        dividedDropout(extraProbability(o, "dropout", p), o.split),
      ),
  });
}

// ---- ImageNet ResNets, Wide-ResNets, ResNeXts (§1.3: deep stem, ResNet-D shortcuts) -----------

/** An ImageNet bottleneck ResNet member (deep stem of width `stem`, stage planes = stem). */
export function imagenetResNet(
  layers: number[],
  stem: number,
  groups: number,
  baseWidth: number,
  numClasses: number,
  dropout: number,
): ResNet {
  return new ResNet({
    block: "bottleneck",
    layers,
    stem: "deep",
    stemWidth: stem,
    planes: stem,
    groups,
    baseWidth,
    numClasses,
    dropout,
    zeroInitResidual: true,
  });
}

const R50 = [3, 4, 6, 3];
const R101 = [3, 4, 23, 3];
const R152 = [3, 8, 36, 3];
const R200 = [3, 24, 36, 3];

// [name, layers, default dropout (resnet.py: only resnet101 sets 0.1)]
const IMAGENET_RESNETS: [string, number[], number | undefined][] = [
  ["resnet50", R50, undefined],
  ["resnet101", R101, 0.1],
  ["resnet152", R152, undefined],
  ["resnet200", R200, undefined],
];
for (const [name, layers, p] of IMAGENET_RESNETS) {
  register({
    name,
    family: "resnet",
    splits: [1, 2, 4, 8],
    datasets: IMAGENET_ONLY,
    description: `ImageNet ResNet-${name.slice(6)} (deep stem, ResNet-D shortcuts; stem width 64/44/32/24 for S=1/2/4/8)`,
    member: (o) =>
      imagenetResNet(
        layers,
        RESNET_INPLANES.imagenet[o.split],
        1,
        64,
        o.numClasses,
        dividedDropout(extraProbability(o, "dropout", p), o.split),
      ),
  });
}

/**
 * ImageNet WRN member widths (§1.2): S=2 is special-cased — WRN-50-2 becomes ResNet-50
 * (width per group 64) and WRN-50-3 becomes WRN-50-2 (128), both at stem 64; otherwise the
 * stem follows the groups==1 table and the width per group stays 64·k.
 */
export function imagenetWideWidths(
  name: string,
  k: number,
  S: number,
): { stem: number; baseWidth: number } {
  if (S === 2 && name === "wide_resnet50_2") return { stem: 64, baseWidth: 64 };
  if (S === 2 && name === "wide_resnet50_3") return { stem: 64, baseWidth: 128 };
  return { stem: RESNET_INPLANES.imagenet[S], baseWidth: 64 * k };
}

const IMAGENET_WRNS: [string, number[], number][] = [
  ["wide_resnet50_2", R50, 2],
  ["wide_resnet50_3", R50, 3],
  ["wide_resnet101_2", R101, 2],
];
for (const [name, layers, k] of IMAGENET_WRNS) {
  register({
    name,
    family: "wide_resnet",
    splits: [1, 2, 4],
    datasets: IMAGENET_ONLY,
    description: `ImageNet Wide-ResNet (bottleneck width ×${k}; S=2 special-cased, §1.2)`,
    member: (o) => {
      const { stem, baseWidth } = imagenetWideWidths(name, k, o.split);
      return imagenetResNet(
        layers,
        stem,
        1,
        baseWidth,
        o.numClasses,
        dividedDropout(extraProbability(o, "dropout", undefined), o.split),
      );
    },
  });
}

// ResNeXts: groups ÷ S, stem 64 and width per group fixed (§1.2). [name, layers|CIFAR depth, groups, wpg]
const RESNEXTS: [string, number[], number, number, "cifar" | "imagenet"][] = [
  ["resnext29_8x64d", [3, 3, 3], 8, 64, "cifar"],
  ["resnext29_16x64d", [3, 3, 3], 16, 64, "cifar"],
  ["resnext50_32x4d", R50, 32, 4, "imagenet"],
  ["resnext101_32x4d", R101, 32, 4, "imagenet"],
  ["resnext101_64x4d", R101, 64, 4, "imagenet"],
];
for (const [name, layers, groups, wpg, kind] of RESNEXTS) {
  register({
    // groups ∈ {8, 16, 32, 64} (resnet.py), so S up to 8 leaves at least one group.
    name,
    family: "resnext",
    splits: [1, 2, 4, 8],
    datasets: kind === "cifar" ? CIFAR_LIKE : IMAGENET_ONLY,
    description: `${kind === "cifar" ? "CIFAR" : "ImageNet"} ResNeXt ${groups}x${wpg}d (cardinality ${groups}/S)`,
    member: (o) => {
      const g = dividedGroups(groups, o.split);
      const dropout = dividedDropout(extraProbability(o, "dropout", undefined), o.split);
      const width = extraPositiveInt(o, "width") ?? 64; // resnet.py: inplanes 64 for every grouped net
      const baseWidth = extraPositiveInt(o, "width_per_group") ?? wpg;
      if (kind === "imagenet")
        return imagenetResNet(layers, width, g, baseWidth, o.numClasses, dropout);
      return new ResNet({
        block: "bottleneck",
        layers,
        stem: "cifar",
        stemWidth: width,
        planes: width,
        groups: g,
        baseWidth,
        numClasses: o.numClasses,
        dropout,
        zeroInitResidual: true,
      });
    },
  });
}

// ---- width factories for divide() -------------------------------------------------------------

/**
 * A width factory (for `divide`) for the table-driven groups==1 CIFAR families: the bottleneck
 * ResNets (width = stem = layer1 planes, base 16) and the WRNs (width = layer1 planes, base 16·k).
 */
export function resnetWidthFactory(
  name: string,
  dataset: DatasetKind = "cifar100",
  numClasses = dataset === "cifar100" ? 100 : 10,
): WidthFactory {
  if (dataset === "imagenet")
    throw new Error(
      `resnetWidthFactory: ${name} on ${dataset} has no width factory (CIFAR/SVHN only)`,
    );
  const o: BuildOptions = { split: 1, dataset, numClasses, crop: 32, extra: {} };
  const cifar = CIFAR_RESNETS.find(([n]) => n === name);
  if (cifar)
    return {
      baseWidth: RESNET_INPLANES[dataset][1],
      crop: 32,
      build: (w) => cifarResNet(cifar[1], o, w),
    };
  const wrn = CIFAR_WRNS.find(([n]) => n === name);
  if (wrn) {
    const [, depth, k, p] = wrn;
    return {
      baseWidth: 16 * k,
      crop: 32,
      build: (w) => cifarWideResNet(depth, w, numClasses, p ?? 0),
    };
  }
  throw new Error(`resnetWidthFactory: no width factory for ${name}`);
}

// Their forward passes reach channels only through child modules (nn/fusion.ts): a fused
// copy computes all members at once (src/infer/fuse.ts).
markChannelAgnostic(ResNet);
