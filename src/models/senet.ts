// SE-ResNet, SE-ResNeXt and SENet-154/113 as the reference builds them (`model/senet.py`,
// after Cadene's pretrained-models): attribute names layer0.conv1, layerN.i.se_module.fc1,
// last_linear, so the reference's state-dict keys load unchanged.
//
// Division (REFERENCE.md §1.2): groups==1 nets take the stem width from a table per dataset
// and S (CIFAR/SVHN: only S ≤ 4); grouped nets divide the cardinality by S and keep the stem.
// Dropout before the FC is divided by √S (§2). SENet does not zero-init the last BN γ even
// though its constructor takes the flag (§10.23). se_resnet50_B adds DropBlock inside the
// blocks of stages 3–4, its drop probability divided by √S too (§2).
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Dropout,
  ReLU,
  NamedSequential,
  Sequential,
  AdaptiveAvgPool2d,
  DropBlock2d,
  pipe,
  F,
  markChannelAgnostic,
} from "../nn/index.js";
import type { Tensor } from "../tensor/index.js";
import { CIFAR_LIKE, IMAGENET_ONLY, type DatasetKind } from "../data/stats.js";
import { register } from "./registry.js";
import {
  Bottleneck,
  addShortcut,
  classify,
  initReference,
  namedDeepStem,
  projection,
  relu,
  type AttentionSlot,
  type BottleneckOptions,
} from "./blocks.js";
import { extraProbability } from "./options.js";

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
    using gate = pipe(x, this.avgPool, this.fc1, relu, this.fc2, F.sigmoid);
    return x.mul(gate);
  }
}

/** The SE module in a bottleneck's attention slot, under the reference's name `se_module`. */
function seSlot(reduction: number): AttentionSlot {
  return { name: "se_module", build: (channels) => new SEModule(channels, reduction) };
}

/**
 * An SE bottleneck with DropBlock after each of its three BNs (before the ReLU and the SE
 * module), as senet.py's `Bottleneck.forward` when drop_type is 'dropblock': one layer, `drop`,
 * applied three times, each time with fresh seeds.
 */
class SEDropBlockBottleneck extends Bottleneck {
  readonly drop: DropBlock2d;

  constructor(o: BottleneckOptions, drop: DropBlock2d) {
    super(o);
    this.drop = this.module("drop", drop);
  }

  override forward(x: Tensor): Tensor {
    const out = pipe(
      x,
      this.conv1,
      this.bn1,
      this.drop,
      relu,
      this.conv2,
      this.bn2,
      this.drop,
      relu,
      this.conv3,
      this.bn3,
      this.drop,
      this.attention,
    );
    return addShortcut(out, x, this.downsample);
  }
}

/** DropBlock inside the blocks (senet.py's block_drop with drop_type 'dropblock'). */
export interface SEDropBlock {
  /** Drop probability of ONE member in every block where it is on (already divided by √S). */
  p: number;
  /** Block size per stage; 0 = no DropBlock in that stage's blocks. */
  blockSizes: number[];
}

export type SEBlockKind =
  /** SENet-154/113: inner widths int(2·g/64·planes), int(4·g/64·planes). */
  | "senet"
  /** SE-ResNet: inner width = planes. */
  | "se_resnet"
  /** SE-ResNeXt: inner width = floor(planes·base_width/64)·groups. */
  | "se_resnext";

/** conv1 and conv2 output widths of an SE bottleneck (senet.py's three block classes). */
function seWidths(
  kind: SEBlockKind,
  planes: number,
  groups: number,
  baseWidth: number,
): [number, number] {
  if (kind === "senet") {
    const ratio = groups / 64; // SENet-154's default cardinality is 64
    return [Math.trunc(2 * ratio * planes), Math.trunc(4 * ratio * planes)];
  }
  if (kind === "se_resnext") {
    const w = Math.floor(planes * (baseWidth / 64)) * groups;
    return [w, w];
  }
  return [planes, planes];
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
  /** DropBlock inside the blocks (se_resnet50_B); absent = none. */
  dropBlock?: SEDropBlock;
}

export class SENet extends Module {
  readonly layer0: NamedSequential;
  readonly stages: Sequential[];
  readonly dropout: Dropout | null;
  readonly last_linear: Linear;

  constructor(readonly config: SENetConfig) {
    super();
    const c = config;
    const w = c.stemWidth;
    let strides: number[];
    if (c.stem === "imagenet") {
      this.layer0 = this.module("layer0", namedDeepStem(w, c.stemOut));
      strides = [1, 2, 2, 2];
    } else {
      if (c.stemOut !== w)
        throw new RangeError(
          "SENet: the CIFAR stem is a single conv (stemOut must equal stemWidth)",
        );
      this.layer0 = this.module(
        "layer0",
        new NamedSequential([
          ["conv1", new Conv2d(3, w, 3, { padding: 1, bias: false })],
          ["bn1", new BatchNorm2d(w)],
          ["relu1", new ReLU(true)],
        ]),
      );
      strides = [1, 2, 2];
    }
    if (c.layers.length !== strides.length)
      throw new RangeError(
        `SENet: a ${c.stem} stem takes ${strides.length} stages, got ${c.layers.length}`,
      );
    if (c.dropBlock && c.dropBlock.blockSizes.length !== c.layers.length)
      throw new RangeError(
        `SENet: dropBlock.blockSizes needs one size per stage (${c.layers.length}), got ${c.dropBlock.blockSizes.length}`,
      );
    let inPlanes = c.stemOut;
    this.stages = c.layers.map((n, i) => {
      const planes = w * 2 ** i;
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) {
        const stride = b === 0 ? strides[i] : 1;
        let down: Module[] | null = null;
        if (stride !== 1 || inPlanes !== planes * 4) {
          // layer1 always uses the 1×1 form; SENet-154 uses a 3×3 conv shortcut in layers 2–4.
          down =
            i > 0 && c.downsampleKernel === 3
              ? [
                  new Conv2d(inPlanes, planes * 4, 3, { stride, padding: 1, bias: false }),
                  new BatchNorm2d(planes * 4),
                ]
              : projection(inPlanes, planes * 4, stride);
        }
        const [width, width2] = seWidths(c.block, planes, c.groups, c.baseWidth);
        const options: BottleneckOptions = {
          inPlanes,
          width,
          width2,
          outPlanes: planes * 4,
          stride,
          groups: c.groups,
          downsample: down,
          attention: seSlot(c.reduction),
        };
        const blockSize = c.dropBlock?.blockSizes[i] ?? 0;
        blocks.push(
          c.dropBlock && c.dropBlock.p > 0 && blockSize > 0
            ? new SEDropBlockBottleneck(options, new DropBlock2d(c.dropBlock.p, { blockSize }))
            : new Bottleneck(options),
        );
        inPlanes = planes * 4;
      }
      return this.module(`layer${i + 1}`, new Sequential(...blocks));
    });
    this.dropout = c.dropout > 0 ? this.module("dropout", new Dropout(c.dropout)) : null;
    this.last_linear = this.module("last_linear", new Linear(inPlanes, c.numClasses));
    initReference(this);
  }

  forward(x: Tensor): Tensor {
    return classify(pipe(x, this.layer0, ...this.stages), this.last_linear, this.dropout);
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
    name,
    family: "senet",
    splits: kind === "cifar" ? [1, 2, 4] : [1, 2, 4, 8],
    datasets: kind === "cifar" ? CIFAR_LIKE : IMAGENET_ONLY,
    description: `${kind === "cifar" ? "CIFAR" : "ImageNet"} SE-ResNet-${name.slice(9)} (SE r=${kind === "cifar" ? 4 : 16}; stem width from the §1.2 table)`,
    member: (o) => {
      const w = SENET_INPLANES[o.dataset][o.split];
      return new SENet({
        block: "se_resnet",
        layers,
        stem: kind,
        stemWidth: w,
        stemOut: w,
        groups: 1,
        reduction: kind === "cifar" ? 4 : 16,
        downsampleKernel: 1,
        baseWidth: 64,
        numClasses: o.numClasses,
        dropout: seDividedDropout(extraProbability(o, "dropout", p), o.split),
      });
    },
  });
}

// Grouped SENets (ImageNet): cardinality ÷ S, stem 64 (§1.2), SE r=16, dropout 0.2/√S.
// [name, block, layers, groups, 128-channel stem, shortcut kernel]
const GROUPED: [string, SEBlockKind, number[], number, boolean, 1 | 3, string][] = [
  [
    "se_resnext101_64x4d",
    "se_resnext",
    [3, 4, 23, 3],
    64,
    false,
    1,
    "ImageNet SE-ResNeXt-101 64x4d",
  ],
  [
    "se_resnext101_64x4d_B",
    "se_resnext",
    [3, 4, 23, 3],
    64,
    true,
    1,
    "ImageNet SE-ResNeXt-101 64x4d with a 128-channel stem",
  ],
  ["senet154", "senet", [3, 8, 36, 3], 64, true, 3, "ImageNet SENet-154 (3×3 conv shortcuts)"],
  [
    "senet113",
    "senet",
    [3, 8, 23, 3],
    64,
    true,
    1,
    "ImageNet SENet-113 (SENet-154 blocks, ResNet-101-like depth, avg-pool shortcuts)",
  ],
];
for (const [name, block, layers, groups, wideStem, kernel, description] of GROUPED) {
  register({
    name,
    family: "senet",
    splits: [1, 2, 4, 8],
    datasets: IMAGENET_ONLY,
    description: `${description} (cardinality ${groups}/S)`,
    member: (o) =>
      new SENet({
        block,
        layers,
        stem: "imagenet",
        stemWidth: 64,
        stemOut: wideStem ? 128 : 64,
        groups: Math.trunc(groups / o.split),
        reduction: 16,
        downsampleKernel: kernel,
        baseWidth: 4,
        numClasses: o.numClasses,
        dropout: seDividedDropout(extraProbability(o, "dropout", 0.2), o.split),
      }),
  });
}

// se_resnet50_B (senet.py): SE-ResNet-50 (stem width from the §1.2 table) with DropBlock in every
// block of stages 3–4 (REFERENCE.md §2): p = 0.1/√S, the same in every block (the reference
// ramps only its dropout/drop-path variants), block size int(3·crop/224) (3 at 224), γ scale 1.
// FC dropout 0.2/√S as the other SE-ResNets. extra: dropout, dropBlock (undivided p's).
const DROPBLOCK_STAGES = [false, false, true, true];
register({
  name: "se_resnet50_B",
  family: "senet",
  splits: [1, 2, 4, 8],
  datasets: IMAGENET_ONLY,
  description:
    "ImageNet SE-ResNet-50 with DropBlock in stages 3–4 (p 0.1÷√S, block int(3·crop/224)) and FC dropout 0.2÷√S (REFERENCE.md §2); stem width from the §1.2 table. extra: dropout, dropBlock",
  member: (o) => {
    const w = SENET_INPLANES[o.dataset][o.split];
    const blockSize = Math.trunc((3 * o.crop) / 224);
    if (blockSize < 1) {
      throw new RangeError(
        `se_resnet50_B: DropBlock's block size int(3·crop/224) is 0 at crop ${o.crop} (the reference cannot train it either); use a crop of at least 75`,
      );
    }
    return new SENet({
      block: "se_resnet",
      layers: [3, 4, 6, 3],
      stem: "imagenet",
      stemWidth: w,
      stemOut: w,
      groups: 1,
      reduction: 16,
      downsampleKernel: 1,
      baseWidth: 64,
      numClasses: o.numClasses,
      dropout: seDividedDropout(extraProbability(o, "dropout", 0.2), o.split),
      dropBlock: {
        p: extraProbability(o, "dropBlock", 0.1) / Math.sqrt(o.split),
        blockSizes: DROPBLOCK_STAGES.map((on) => (on ? blockSize : 0)),
      },
    });
  },
});
// Their forward passes reach channels only through child modules (nn/fusion.ts): a fused
// copy computes all members at once (src/infer/fuse.ts).
markChannelAgnostic(SENet, SEModule, SEDropBlockBottleneck);
