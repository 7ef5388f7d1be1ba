// RandAugment configured by timm-style strings, with the semantics of timm's
// `rand_augment_transform` (which the reference calls for some ImageNet
// models, REFERENCE.md §6.3):
//
//   rand-m9-mstd0.5        magnitude 9 of 10, Gaussian magnitude noise σ 0.5, 2 ops
//   rand-m6-mstd0.5-n2     same with explicit op count
//   rand-m9-n3-inc1        "increasing" op variants (severity grows with magnitude)
//   rand-m9-w0             op choice weighted by timm's weight set 0 (no replacement)
//
// Per image: choose n ops (uniformly with replacement, or weighted without);
// each applies with probability 0.5 at magnitude m (+ N(0, mstd²), clipped
// to [0, 10]). Affine ops resample with bilinear or bicubic chosen at random
// and fill with the dataset mean colour (timm hparams img_mean).
import type { RgbImage } from "../image.js";
import type { Rng } from "../prng.js";
import { DataError } from "../errors.js";
import * as P from "./pillow.js";

const MAX_LEVEL = 10;

export type RandAugmentOp =
  | "AutoContrast"
  | "Equalize"
  | "Invert"
  | "Rotate"
  | "Posterize"
  | "Solarize"
  | "SolarizeAdd"
  | "Color"
  | "Contrast"
  | "Brightness"
  | "Sharpness"
  | "ShearX"
  | "ShearY"
  | "TranslateXRel"
  | "TranslateYRel"
  | "PosterizeIncreasing"
  | "SolarizeIncreasing"
  | "ColorIncreasing"
  | "ContrastIncreasing"
  | "BrightnessIncreasing"
  | "SharpnessIncreasing";

/** timm _RAND_TRANSFORMS. */
export const RAND_TRANSFORMS: readonly RandAugmentOp[] = [
  "AutoContrast",
  "Equalize",
  "Invert",
  "Rotate",
  "Posterize",
  "Solarize",
  "SolarizeAdd",
  "Color",
  "Contrast",
  "Brightness",
  "Sharpness",
  "ShearX",
  "ShearY",
  "TranslateXRel",
  "TranslateYRel",
];

/** timm _RAND_INCREASING_TRANSFORMS. */
export const RAND_INCREASING_TRANSFORMS: readonly RandAugmentOp[] = [
  "AutoContrast",
  "Equalize",
  "Invert",
  "Rotate",
  "PosterizeIncreasing",
  "SolarizeIncreasing",
  "SolarizeAdd",
  "ColorIncreasing",
  "ContrastIncreasing",
  "BrightnessIncreasing",
  "SharpnessIncreasing",
  "ShearX",
  "ShearY",
  "TranslateXRel",
  "TranslateYRel",
];

/** timm _RAND_CHOICE_WEIGHTS_0 (the only weight set), normalised at use. */
const CHOICE_WEIGHTS_0: Partial<Record<RandAugmentOp, number>> = {
  Rotate: 0.3,
  ShearX: 0.2,
  ShearY: 0.2,
  TranslateXRel: 0.1,
  TranslateYRel: 0.1,
  Color: 0.025,
  Sharpness: 0.025,
  AutoContrast: 0.025,
  Solarize: 0.005,
  SolarizeAdd: 0.005,
  Contrast: 0.005,
  Brightness: 0.005,
  Equalize: 0.005,
  Posterize: 0,
  Invert: 0,
};

export interface RandAugmentConfig {
  magnitude: number;
  numLayers: number;
  magnitudeStd: number;
  increasing: boolean;
  /** Index of timm's op-choice weight set (only 0 exists), or null for uniform choice with replacement. */
  weightIndex: number | null;
  ops: readonly RandAugmentOp[];
}

/** Parses a timm RandAugment config string; unknown or malformed sections are errors. */
export function parseRandAugment(config: string): RandAugmentConfig {
  const parts = config.split("-");
  if (parts[0] !== "rand") {
    throw new DataError(
      "argument",
      `RandAugment config "${config}" must start with "rand" (e.g. rand-m9-mstd0.5)`,
    );
  }
  const cfg = {
    magnitude: MAX_LEVEL,
    numLayers: 2,
    magnitudeStd: 0,
    increasing: false,
    weightIndex: null as number | null,
  };
  for (const section of parts.slice(1)) {
    const m = /^([a-z]+)(\d.*)$/.exec(section);
    if (!m)
      throw new DataError(
        "argument",
        `RandAugment config "${config}": cannot parse section "${section}" (expected m<int>, n<int>, mstd<float>, inc<0|1>, w<int>)`,
      );
    const [, key, val] = m;
    const num = Number(val);
    if (!Number.isFinite(num))
      throw new DataError(
        "argument",
        `RandAugment config "${config}": "${val}" is not a number in section "${section}"`,
      );
    const int = (what: string) => {
      if (!Number.isInteger(num))
        throw new DataError(
          "argument",
          `RandAugment config "${config}": ${what} must be an integer, got "${val}"`,
        );
      return num;
    };
    switch (key) {
      case "m":
        cfg.magnitude = int("magnitude m");
        if (cfg.magnitude < 0 || cfg.magnitude > MAX_LEVEL) {
          throw new DataError(
            "argument",
            `RandAugment config "${config}": magnitude m must be in 0..${MAX_LEVEL}, got ${cfg.magnitude}`,
          );
        }
        break;
      case "n":
        cfg.numLayers = int("op count n");
        if (cfg.numLayers < 0)
          throw new DataError("argument", `RandAugment config "${config}": op count n must be ≥ 0`);
        break;
      case "mstd":
        if (num < 0)
          throw new DataError(
            "argument",
            `RandAugment config "${config}": mstd must be ≥ 0, got ${num}`,
          );
        cfg.magnitudeStd = num;
        break;
      case "inc":
        // timm tests bool(val), which is true even for "inc0"; we read the integer, as intended.
        cfg.increasing = int("inc") !== 0;
        break;
      case "w":
        cfg.weightIndex = int("weight index w");
        if (cfg.weightIndex !== 0)
          throw new DataError(
            "argument",
            `RandAugment config "${config}": only weight set w0 exists`,
          );
        break;
      default:
        throw new DataError(
          "argument",
          `RandAugment config "${config}": unknown section "${section}" (known: m, n, mstd, inc, w)`,
        );
    }
  }
  const ops = cfg.increasing ? RAND_INCREASING_TRANSFORMS : RAND_TRANSFORMS;
  if (
    cfg.weightIndex !== null &&
    cfg.numLayers > ops.filter((o) => (CHOICE_WEIGHTS_0[o] ?? 0) > 0).length
  ) {
    throw new DataError(
      "argument",
      `RandAugment config "${config}": n=${cfg.numLayers} exceeds the ops with non-zero weight`,
    );
  }
  return { ...cfg, ops };
}

export interface RandAugmentParams {
  /** Fill for geometric ops (timm img_mean). */
  fill: P.Rgb;
  /** TranslateXRel/YRel range as a fraction of the size (timm default 0.45). */
  translatePct?: number;
  /** Fixed resampling; default: bilinear or bicubic at random per op (timm). */
  interpolation?: "bilinear" | "bicubic";
}

function negateHalf(v: number, rng: Rng): number {
  return rng.float() > 0.5 ? -v : v; // timm _randomly_negate
}

/** One RandAugment op at (possibly fractional) level 0..10, timm's level→argument maps. */
export function randAugmentOp(
  img: RgbImage,
  op: RandAugmentOp,
  level: number,
  rng: Rng,
  params: RandAugmentParams,
): RgbImage {
  const frac = level / MAX_LEVEL;
  const resample = (): P.Resample =>
    params.interpolation ?? (rng.below(2) === 0 ? "bilinear" : "bicubic");
  const enhance = (increasing: boolean) =>
    increasing ? 1 + negateHalf(frac * 0.9, rng) : frac * 1.8 + 0.1;
  switch (op) {
    case "AutoContrast":
      return P.autocontrast(img);
    case "Equalize":
      return P.equalize(img);
    case "Invert":
      return P.invert(img);
    case "Rotate": {
      const deg = negateHalf(frac * 30, rng);
      return P.rotate(img, deg, resample(), params.fill);
    }
    case "Posterize":
    case "PosterizeIncreasing": {
      const keep = Math.trunc(frac * 4);
      const bits = op === "Posterize" ? keep : 4 - keep;
      return bits >= 8 ? img : P.posterize(img, bits);
    }
    case "Solarize":
      return P.solarize(img, Math.trunc(frac * 256));
    case "SolarizeIncreasing":
      return P.solarize(img, 256 - Math.trunc(frac * 256));
    case "SolarizeAdd":
      return P.solarizeAdd(img, Math.trunc(frac * 110), 128);
    case "Color":
    case "ColorIncreasing":
      return P.enhanceColor(img, enhance(op === "ColorIncreasing"));
    case "Contrast":
    case "ContrastIncreasing":
      return P.enhanceContrast(img, enhance(op === "ContrastIncreasing"));
    case "Brightness":
    case "BrightnessIncreasing":
      return P.enhanceBrightness(img, enhance(op === "BrightnessIncreasing"));
    case "Sharpness":
    case "SharpnessIncreasing":
      return P.enhanceSharpness(img, enhance(op === "SharpnessIncreasing"));
    case "ShearX": {
      const s = negateHalf(frac * 0.3, rng);
      return P.affine(img, [1, s, 0, 0, 1, 0], resample(), params.fill);
    }
    case "ShearY": {
      const s = negateHalf(frac * 0.3, rng);
      return P.affine(img, [1, 0, 0, s, 1, 0], resample(), params.fill);
    }
    case "TranslateXRel": {
      const px = negateHalf(frac * (params.translatePct ?? 0.45), rng) * img.width;
      return P.affine(img, [1, 0, px, 0, 1, 0], resample(), params.fill);
    }
    case "TranslateYRel": {
      const px = negateHalf(frac * (params.translatePct ?? 0.45), rng) * img.height;
      return P.affine(img, [1, 0, 0, 0, 1, px], resample(), params.fill);
    }
  }
}

function chooseOps(cfg: RandAugmentConfig, rng: Rng): RandAugmentOp[] {
  if (cfg.weightIndex === null) {
    return Array.from({ length: cfg.numLayers }, () => cfg.ops[rng.below(cfg.ops.length)]);
  }
  // Weighted choice without replacement (numpy.random.choice(replace=False, p=w)).
  const pool = cfg.ops.map((op) => ({ op, w: CHOICE_WEIGHTS_0[op] ?? 0 }));
  const chosen: RandAugmentOp[] = [];
  for (let k = 0; k < cfg.numLayers; k++) {
    const total = pool.reduce((s, e) => s + e.w, 0);
    let u = rng.float() * total;
    let idx = pool.findIndex((e) => (u -= e.w) < 0);
    if (idx < 0) idx = pool.findLastIndex((e) => e.w > 0);
    chosen.push(pool[idx].op);
    pool.splice(idx, 1);
  }
  return chosen;
}

/** Applies RandAugment `cfg` (from parseRandAugment) to one image. */
export function randAugment(
  img: RgbImage,
  cfg: RandAugmentConfig,
  rng: Rng,
  params: RandAugmentParams,
): RgbImage {
  let out = img;
  for (const op of chooseOps(cfg, rng)) {
    if (rng.float() > 0.5) continue; // each op applies with probability 0.5
    let level = cfg.magnitude;
    if (cfg.magnitudeStd > 0) level = rng.normal(level, cfg.magnitudeStd);
    level = Math.min(MAX_LEVEL, Math.max(0, level));
    out = randAugmentOp(out, op, level, rng, params);
  }
  return out;
}
