// Shake-Shake ResNet-26 2×Wd for CIFAR/SVHN (Gastaldi 2017), as the reference's
// `model/shake_shake.py`: names, layer order, initialisation and division rule (REFERENCE.md
// §1.2: the 16-channel stem is never divided, the base width W follows a per-S table).
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Sequential,
  ReLU,
  pipe,
  consume,
  init,
  F,
  catChannels,
  markChannelAgnostic,
} from "../nn/index.js";
import { empty, ones, zeros } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Generator } from "../tensor/random.js";
import { CIFAR_LIKE } from "../data/stats.js";
import { register } from "./registry.js";
import { classify, relu } from "./blocks.js";
import { shakeShake } from "./shake.js";

/** Base width W of one member for S members (REFERENCE.md §1.2 Shake-Shake table). */
export const SHAKE_WIDTHS: Record<number, Record<number, number>> = {
  96: { 1: 96, 2: 64, 4: 48, 8: 32, 16: 24 },
  64: { 1: 64, 2: 44, 4: 32, 8: 20 },
  32: { 1: 32, 2: 24, 4: 16 },
};

/**
 * The projection shortcut of a block whose channels change: two 1×1 convolutions, one on the
 * strided input and one on the input shifted by one pixel, concatenated and normalised.
 */
class Shortcut extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(
    inCh: number,
    outCh: number,
    readonly stride: number,
  ) {
    super();
    this.conv1 = this.module("conv1", new Conv2d(inCh, outCh / 2, 1, { bias: false }));
    this.conv2 = this.module("conv2", new Conv2d(inCh, outCh / 2, 1, { bias: false }));
    this.bn = this.module("bn", new BatchNorm2d(outCh));
  }

  /** avg_pool2d with a 1×1 window and stride s: plain subsampling (a view). */
  private readonly subsample = (x: Tensor): Tensor => {
    if (this.stride === 1) return x;
    using rows = x.slice(2, 0, undefined, this.stride);
    return rows.slice(3, 0, undefined, this.stride);
  };

  forward(x: Tensor): Tensor {
    using both = this.paths(x);
    return this.bn.forward(both);
  }

  /** Both 1×1 paths on relu(x), concatenated; the second sees the image shifted by one pixel. */
  private paths(x: Tensor): Tensor {
    const h = F.relu(x);
    using h1 = pipe(h, this.subsample, this.conv1);
    using h2 = consume(h, shiftByOnePixel, this.subsample, this.conv2);
    return catChannels([h1, h2]);
  }
}

/** Crops the first row and column and zero-pads the last. */
function shiftByOnePixel(x: Tensor): Tensor {
  return F.pad(x, [-1, 1, -1, 1]);
}

/**
 * The reference builds a Shortcut in every block (its `equal_io and None or Shortcut(...)`
 * always yields the Shortcut) but calls it only where channels change. Blocks with equal
 * in/out channels carry these unused tensors under the same state-dict keys, as frozen buffers:
 * checkpoints load both ways, and the trainable count equals the paper's (26.2M for 2×96d,
 * REFERENCE.md §7.2) — in the reference they never receive a gradient, so never change either.
 */
class UnusedShortcut extends Module {
  constructor(inCh: number, outCh: number) {
    super();
    this.module("conv1", new FrozenConvWeight([outCh / 2, inCh, 1, 1]));
    this.module("conv2", new FrozenConvWeight([outCh / 2, inCh, 1, 1]));
    this.module("bn", new FrozenBatchNormState(outCh));
  }
  forward(): Tensor {
    throw new Error("the unused Shortcut of an equal-width Shake-Shake block is never called");
  }
}

/** A bias-free conv's weight as a buffer, initialised as the reference initialises convs. */
class FrozenConvWeight extends Module {
  constructor(shape: number[]) {
    super();
    this.buffer(
      "weight",
      init.kaimingNormal_(empty(shape), { mode: "fanOut", nonlinearity: "relu" }),
    );
  }
  forward(): Tensor {
    throw new Error("frozen tensors have no forward");
  }
}

/** BatchNorm2d's state (γ=1, β=0, running statistics) as buffers. */
class FrozenBatchNormState extends Module {
  constructor(n: number) {
    super();
    this.buffer("weight", ones([n]));
    this.buffer("bias", zeros([n]));
    this.buffer("running_mean", zeros([n]));
    this.buffer("running_var", ones([n]));
    this.buffer("num_batches_tracked", zeros([], { dtype: "i64" }));
  }
  forward(): Tensor {
    throw new Error("frozen tensors have no forward");
  }
}

function branch(inCh: number, outCh: number, stride: number): Sequential {
  return new Sequential(
    new ReLU(),
    new Conv2d(inCh, outCh, 3, { padding: 1, stride, bias: false }),
    new BatchNorm2d(outCh),
    new ReLU(true),
    new Conv2d(outCh, outCh, 3, { padding: 1, bias: false }),
    new BatchNorm2d(outCh),
  );
}

export class ShakeBlock extends Module {
  readonly equalIO: boolean;
  readonly shortcut: Shortcut | UnusedShortcut;
  readonly branch1: Sequential;
  readonly branch2: Sequential;
  /** Source of the Shake-Shake coefficients (libtorch's default generator when unset). */
  generator?: Generator;

  constructor(inCh: number, outCh: number, stride: number) {
    super();
    this.equalIO = inCh === outCh;
    this.shortcut = this.module(
      "shortcut",
      this.equalIO ? new UnusedShortcut(inCh, outCh) : new Shortcut(inCh, outCh, stride),
    );
    this.branch1 = this.module("branch1", branch(inCh, outCh, stride));
    this.branch2 = this.module("branch2", branch(inCh, outCh, stride));
  }

  forward(x: Tensor): Tensor {
    const h = this.mixedBranches(x);
    if (this.equalIO) return h.add_(x);
    using h0 = this.shortcut.forward(x);
    return h.add_(h0);
  }

  /** Shake-Shake of the two branches (REFERENCE.md §10.20); they are freed once mixed. */
  private mixedBranches(x: Tensor): Tensor {
    using h1 = this.branch1.forward(x);
    using h2 = this.branch2.forward(x);
    return shakeShake(h1, h2, { training: this.training, generator: this.generator });
  }
}

export interface ShakeResNetConfig {
  /** Depth 6n+2: n blocks per stage. */
  depth: number;
  /** Base width W of ONE member (already divided). */
  width: number;
  numClasses: number;
}

/** One member: stem 3→16 (never divided), stages W, 2W, 4W with strides 1, 2, 2. */
export class ShakeResNet extends Module {
  readonly conv_1: Conv2d;
  readonly bn_1: BatchNorm2d;
  readonly stage_1: Sequential;
  readonly stage_2: Sequential;
  readonly stage_3: Sequential;
  readonly fc_out: Linear;

  constructor(readonly config: ShakeResNetConfig) {
    super();
    const n = Math.trunc((config.depth - 2) / 6);
    const w = config.width;
    // The stem conv keeps PyTorch's default bias, as in the reference.
    this.conv_1 = this.module("conv_1", new Conv2d(3, 16, 3, { padding: 1 }));
    this.bn_1 = this.module("bn_1", new BatchNorm2d(16));
    const stage = (inCh: number, outCh: number, stride: number) =>
      new Sequential(
        ...Array.from(
          { length: n },
          (_, i) => new ShakeBlock(i === 0 ? inCh : outCh, outCh, i === 0 ? stride : 1),
        ),
      );
    this.stage_1 = this.module("stage_1", stage(16, w, 1));
    this.stage_2 = this.module("stage_2", stage(w, 2 * w, 2));
    this.stage_3 = this.module("stage_3", stage(2 * w, 4 * w, 2));
    this.fc_out = this.module("fc_out", new Linear(4 * w, config.numClasses));
    // Init (REFERENCE.md §1.3): conv kaiming_normal(fan_out, relu), BN γ=1 β=0, FC N(0, 1e-3²) bias 0.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d)
        init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "relu" });
    }
    init.normal_(this.fc_out.weight, 0, 1e-3);
    init.zeros_(this.fc_out.bias!);
  }

  /** Sets the generator of every block's Shake-Shake draws. */
  setGenerator(g: Generator | undefined): this {
    for (const [, m] of this.namedModules()) if (m instanceof ShakeBlock) m.generator = g;
    return this;
  }

  forward(x: Tensor): Tensor {
    const features = pipe(
      x,
      this.conv_1,
      this.bn_1,
      this.stage_1,
      this.stage_2,
      this.stage_3,
      relu,
    );
    return classify(features, this.fc_out);
  }
}

function registerShake(base: 96 | 64 | 32): void {
  const table = SHAKE_WIDTHS[base];
  register({
    name: `shake_resnet26_2x${base}d`,
    family: "shake_shake",
    splits: Object.keys(table).map(Number),
    datasets: CIFAR_LIKE,
    description: `Shake-Shake ResNet-26 2x${base}d (CIFAR/SVHN); members' base width ${Object.values(table).join("/")} for S=${Object.keys(table).join("/")} (REFERENCE.md §1.2)`,
    member: (o) => new ShakeResNet({ depth: 26, width: table[o.split], numClasses: o.numClasses }),
  });
}

registerShake(96);
registerShake(64);
registerShake(32);

// The shortcut's concatenation goes through catChannels; everything else through child modules
// (nn/fusion.ts), so a fused copy computes all members at once (src/infer/fuse.ts). The unused
// shortcuts of equal-width blocks are never called, so they need no fused form.
markChannelAgnostic(ShakeResNet, ShakeBlock, Shortcut);
