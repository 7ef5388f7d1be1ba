// A view = one independent draw of the whole train pipeline (REFERENCE.md §3.1,
// §10.6): geometry (crop) → flip → policy (AutoAugment / RandAugment) →
// normalise → random erasing, the order of the reference's torchvision
// Compose. The configuration is plain JSON so worker threads rebuild the same
// pipeline from it; presets encode REFERENCE.md §6 per dataset.
import type { RgbImage } from "../image.js";
import type { Rng } from "../prng.js";
import { DataError } from "../errors.js";
import {
  NORMALIZATION,
  ERASING,
  meanFill,
  type DatasetKind,
  type ErasingParams,
  type Triple,
  DATASET_KINDS,
} from "../stats.js";
import { padRandomCrop, randomHorizontalFlip } from "./crop_flip.js";
import {
  autoAugment,
  assertAutoAugmentPolicy,
  AUTOAUGMENT_FILL,
  type AutoAugmentPolicyName,
} from "./autoaugment.js";
import { parseRandAugment, randAugment, type RandAugmentConfig } from "./randaugment.js";
import { normalizeTable, writeNormalizedChw, type NormalizeTable } from "./normalize.js";
import { randomErasing, validateErasing } from "./erasing.js";

export type CropConfig =
  | { kind: "none" }
  /** RandomCrop(size, padding) with zero fill (CIFAR/SVHN). */
  | { kind: "pad"; size: number; padding: number }
  /** RandomResizedCrop(size, scale, ratio), bicubic (ImageNet train; folder datasets). */
  | { kind: "randomResized"; size: number; scale: [number, number]; ratio: [number, number] }
  /** Resize(shorter side → resize, bicubic) + CenterCrop(size) (ImageNet eval; folder datasets). */
  | { kind: "resizeCenter"; size: number; resize: number };

export type PolicyConfig =
  | { kind: "none" }
  | { kind: "autoaugment"; policy: AutoAugmentPolicyName; fill?: Triple }
  | { kind: "randaugment"; config: string; fill: Triple; translatePct?: number };

export interface AugmentConfig {
  crop: CropConfig;
  flip: boolean;
  policy: PolicyConfig;
  erasing: ErasingParams | null;
  mean: Triple;
  std: Triple;
}

export interface PresetOptions {
  /** Train pipeline (augmented) or eval pipeline (deterministic). */
  train: boolean;
  /** CIFAR-100 / ImageNet: use AutoAugment (reference --is_autoaugment; train script sets 1). Default true. */
  autoaugment?: boolean;
  /** ImageNet: a RandAugment string instead of AutoAugment (e.g. "rand-m9-mstd0.5"). */
  randaugment?: string;
  /** CIFAR-100 / ImageNet: random erasing as cutout (reference --is_cutout, default 1). */
  cutout?: boolean;
  /** Erasing probability (reference --erase_p, default 0.5). */
  eraseP?: number;
  /** ImageNet crop size (default 224). */
  cropSize?: number;
}

/** The reference's per-dataset pipelines (REFERENCE.md §6.2–6.4, dataset/factory.py). */
export function presetAugmentation(kind: DatasetKind, opts: PresetOptions): AugmentConfig {
  if (!DATASET_KINDS.includes(kind))
    throw new DataError(
      "argument",
      `unknown dataset "${String(kind)}" (known: ${DATASET_KINDS.join(", ")})`,
    );
  const { mean, std } = NORMALIZATION[kind];
  const eraseP = opts.eraseP ?? ERASING[kind].p;
  const erasing = (on: boolean) => (on && eraseP > 0 ? { ...ERASING[kind], p: eraseP } : null);
  if (opts.randaugment !== undefined && kind !== "imagenet") {
    throw new DataError(
      "argument",
      `RandAugment is only part of the ImageNet pipeline in the reference (dataset ${kind})`,
    );
  }
  if (opts.randaugment !== undefined && opts.autoaugment === true) {
    throw new DataError("argument", "AutoAugment and RandAugment are mutually exclusive");
  }
  if (kind === "imagenet") {
    const size = opts.cropSize ?? 224;
    if (!opts.train)
      return {
        crop: { kind: "resizeCenter", size, resize: Math.trunc(1.15 * size) },
        flip: false,
        policy: { kind: "none" },
        erasing: null,
        mean,
        std,
      };
    let policy: PolicyConfig = { kind: "none" };
    if (opts.randaugment !== undefined) {
      parseRandAugment(opts.randaugment);
      policy = { kind: "randaugment", config: opts.randaugment, fill: meanFill("imagenet") };
    } else if (opts.autoaugment ?? true) policy = { kind: "autoaugment", policy: "imagenet" };
    return {
      crop: { kind: "randomResized", size, scale: [0.1, 1], ratio: [3 / 4, 4 / 3] },
      flip: true,
      policy,
      erasing: erasing(opts.cutout ?? true),
      mean,
      std,
    };
  }
  if (!opts.train)
    return {
      crop: { kind: "none" },
      flip: false,
      policy: { kind: "none" },
      erasing: null,
      mean,
      std,
    };
  const crop: CropConfig = { kind: "pad", size: 32, padding: 4 };
  switch (kind) {
    case "cifar10": // AutoAugment and erasing are always on for CIFAR-10 (§6.2, §10.7)
      return {
        crop,
        flip: true,
        policy: { kind: "autoaugment", policy: "cifar10" },
        erasing: erasing(true),
        mean,
        std,
      };
    case "cifar100":
      return {
        crop,
        flip: true,
        policy:
          (opts.autoaugment ?? true)
            ? { kind: "autoaugment", policy: "cifar10" }
            : { kind: "none" },
        erasing: erasing(opts.cutout ?? true),
        mean,
        std,
      };
    default: // svhn
      return {
        crop,
        flip: true,
        policy: { kind: "autoaugment", policy: "svhn" },
        erasing: erasing(true),
        mean,
        std,
      };
  }
}

/** A validated, ready-to-run AugmentConfig (tables precomputed). */
export class Augmenter {
  readonly config: AugmentConfig;
  private readonly table: NormalizeTable;
  private readonly rand: RandAugmentConfig | null;

  constructor(config: AugmentConfig) {
    this.config = config;
    validateConfig(config);
    this.table = normalizeTable(config.mean, config.std);
    this.rand =
      config.policy.kind === "randaugment" ? parseRandAugment(config.policy.config) : null;
  }

  /** Output width/height, or null when it is the dataset's native size (crop "none"). */
  get outputSize(): number | null {
    return this.config.crop.kind === "none" ? null : this.config.crop.size;
  }

  /** Crop step for in-memory images (folder datasets crop while decoding, see imagefolder.ts). */
  cropInMemory(img: RgbImage, rng: Rng): RgbImage {
    const crop = this.config.crop;
    if (crop.kind === "none") return img;
    if (crop.kind === "pad") return padRandomCrop(img, rng, crop.size, crop.padding);
    throw new DataError(
      "argument",
      `crop "${crop.kind}" needs an image-folder dataset (it resizes while decoding)`,
    );
  }

  /** Flip and policy on the cropped uint8 image. */
  pixelOps(img: RgbImage, rng: Rng): RgbImage {
    let out = this.config.flip ? randomHorizontalFlip(img, rng) : img;
    const policy = this.config.policy;
    if (policy.kind === "autoaugment")
      out = autoAugment(out, policy.policy, rng, policy.fill ?? AUTOAUGMENT_FILL);
    else if (policy.kind === "randaugment" && this.rand) {
      out = randAugment(out, this.rand, rng, {
        fill: policy.fill,
        translatePct: policy.translatePct,
      });
    }
    return out;
  }

  /** Normalise into out[offset…] (float CHW) and erase. */
  finish(img: RgbImage, out: Float32Array, offset: number, rng: Rng): void {
    writeNormalizedChw(img, this.table, out, offset);
    if (this.config.erasing)
      randomErasing(out, offset, 3, img.height, img.width, rng, this.config.erasing, 0);
  }

  /** The whole pipeline for an in-memory image. */
  run(img: RgbImage, out: Float32Array, offset: number, rng: Rng): void {
    this.finish(this.pixelOps(this.cropInMemory(img, rng), rng), out, offset, rng);
  }
}

function validateConfig(c: AugmentConfig): void {
  const bad = (msg: string) => new DataError("argument", `augmentation config: ${msg}`);
  for (const t of [c.mean, c.std])
    if (!Array.isArray(t) || t.length !== 3) throw bad("mean and std need 3 values");
  if (c.std.some((s) => !(s > 0))) throw bad(`std must be positive, got (${c.std})`);
  const crop = c.crop;
  if (crop.kind !== "none") {
    if (!(Number.isInteger(crop.size) && crop.size > 0))
      throw bad(`crop size must be a positive integer, got ${crop.size}`);
    if (crop.kind === "pad" && !(Number.isInteger(crop.padding) && crop.padding >= 0))
      throw bad(`padding must be a non-negative integer`);
    if (crop.kind === "resizeCenter" && !(crop.resize >= crop.size))
      throw bad(`resize ${crop.resize} must be ≥ crop ${crop.size}`);
    if (
      crop.kind === "randomResized" &&
      !(crop.scale[0] > 0 && crop.scale[0] <= crop.scale[1] && crop.scale[1] <= 1)
    ) {
      throw bad(`RandomResizedCrop scale must satisfy 0 < lo ≤ hi ≤ 1`);
    }
  }
  if (c.policy.kind === "autoaugment") assertAutoAugmentPolicy(c.policy.policy);
  else if (c.policy.kind !== "none" && c.policy.kind !== "randaugment")
    throw bad(`unknown policy kind "${(c.policy as { kind: string }).kind}"`);
  if (c.erasing) validateErasing(c.erasing);
}
