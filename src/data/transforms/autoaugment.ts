// AutoAugment with the CIFAR-10, ImageNet and SVHN policies, following the
// DeepVoltaire implementation that the reference vendors
// (dataset/autoaugment.py): a policy is a list of sub-policies
// (p1, op1, m1, p2, op2, m2); one sub-policy is drawn uniformly per image,
// each of its two ops runs with its probability. Magnitude indices 0..9 map
// through the tables below. Geometric ops fill with gray 128; shear is
// bicubic, translate and rotate nearest; rotate is always counter-clockwise
// (that implementation draws no sign for it), all other signed ops draw ±
// with equal probability.
import type { RgbImage } from "../image.js";
import type { Rng } from "../prng.js";
import { DataError } from "../errors.js";
import * as P from "./pillow.js";

export type AutoAugmentOp =
  | "shearX"
  | "shearY"
  | "translateX"
  | "translateY"
  | "rotate"
  | "color"
  | "posterize"
  | "solarize"
  | "contrast"
  | "sharpness"
  | "brightness"
  | "autocontrast"
  | "equalize"
  | "invert";

export type AutoAugmentPolicyName = "cifar10" | "imagenet" | "svhn";

/** numpy.linspace(start, stop, 10) with numpy's arithmetic (i·step + start, exact endpoint). */
function linspace10(start: number, stop: number): number[] {
  const step = (stop - start) / 9;
  return Array.from({ length: 10 }, (_, i) => (i === 9 ? stop : i * step + start));
}

/** Magnitude index → op argument (the `ranges` table of DeepVoltaire's SubPolicy). */
export const AUTOAUGMENT_RANGES: Record<AutoAugmentOp, readonly number[]> = {
  shearX: linspace10(0, 0.3),
  shearY: linspace10(0, 0.3),
  translateX: linspace10(0, 150 / 331), // fraction of the image size
  translateY: linspace10(0, 150 / 331),
  rotate: linspace10(0, 30), // degrees
  color: linspace10(0, 0.9), // factor 1 ± m
  posterize: [8, 8, 7, 7, 6, 6, 5, 5, 4, 4], // np.round(np.linspace(8, 4, 10))
  solarize: linspace10(256, 0), // threshold
  contrast: linspace10(0, 0.9),
  sharpness: linspace10(0, 0.9),
  brightness: linspace10(0, 0.9),
  autocontrast: new Array<number>(10).fill(0),
  equalize: new Array<number>(10).fill(0),
  invert: new Array<number>(10).fill(0),
};

export type SubPolicy = readonly [number, AutoAugmentOp, number, number, AutoAugmentOp, number];

// The 25 best sub-policies found on reduced CIFAR-10 (AutoAugment paper, appendix), DeepVoltaire order.
const CIFAR10_POLICY: readonly SubPolicy[] = [
  [0.1, "invert", 7, 0.2, "contrast", 6],
  [0.7, "rotate", 2, 0.3, "translateX", 9],
  [0.8, "sharpness", 1, 0.9, "sharpness", 3],
  [0.5, "shearY", 8, 0.7, "translateY", 9],
  [0.5, "autocontrast", 8, 0.9, "equalize", 2],
  [0.2, "shearY", 7, 0.3, "posterize", 7],
  [0.4, "color", 3, 0.6, "brightness", 7],
  [0.3, "sharpness", 9, 0.7, "brightness", 9],
  [0.6, "equalize", 5, 0.5, "equalize", 1],
  [0.6, "contrast", 7, 0.6, "sharpness", 5],
  [0.7, "color", 7, 0.5, "translateX", 8],
  [0.3, "equalize", 7, 0.4, "autocontrast", 8],
  [0.4, "translateY", 3, 0.2, "sharpness", 6],
  [0.9, "brightness", 6, 0.2, "color", 8],
  [0.5, "solarize", 2, 0.0, "invert", 3],
  [0.2, "equalize", 0, 0.6, "autocontrast", 0],
  [0.2, "equalize", 8, 0.6, "equalize", 4],
  [0.9, "color", 9, 0.6, "equalize", 6],
  [0.8, "autocontrast", 4, 0.2, "solarize", 8],
  [0.1, "brightness", 3, 0.7, "color", 0],
  [0.4, "solarize", 5, 0.9, "autocontrast", 3],
  [0.9, "translateY", 9, 0.7, "translateY", 9],
  [0.9, "autocontrast", 2, 0.8, "solarize", 3],
  [0.8, "equalize", 8, 0.1, "invert", 3],
  [0.7, "translateY", 9, 0.9, "autocontrast", 1],
];

// The 25 ImageNet sub-policies as listed by DeepVoltaire (24 distinct; some repeat).
const IMAGENET_POLICY: readonly SubPolicy[] = [
  [0.4, "posterize", 8, 0.6, "rotate", 9],
  [0.6, "solarize", 5, 0.6, "autocontrast", 5],
  [0.8, "equalize", 8, 0.6, "equalize", 3],
  [0.6, "posterize", 7, 0.6, "posterize", 6],
  [0.4, "equalize", 7, 0.2, "solarize", 4],
  [0.4, "equalize", 4, 0.8, "rotate", 8],
  [0.6, "solarize", 3, 0.6, "equalize", 7],
  [0.8, "posterize", 5, 1.0, "equalize", 2],
  [0.2, "rotate", 3, 0.6, "solarize", 8],
  [0.6, "equalize", 8, 0.4, "posterize", 6],
  [0.8, "rotate", 8, 0.4, "color", 0],
  [0.4, "rotate", 9, 0.6, "equalize", 2],
  [0.0, "equalize", 7, 0.8, "equalize", 8],
  [0.6, "invert", 4, 1.0, "equalize", 8],
  [0.6, "color", 4, 1.0, "contrast", 8],
  [0.8, "rotate", 8, 1.0, "color", 2],
  [0.8, "color", 8, 0.8, "solarize", 7],
  [0.4, "sharpness", 7, 0.6, "invert", 8],
  [0.6, "shearX", 5, 1.0, "equalize", 9],
  [0.4, "color", 0, 0.6, "equalize", 3],
  [0.4, "equalize", 7, 0.2, "solarize", 4],
  [0.6, "solarize", 5, 0.6, "autocontrast", 5],
  [0.6, "invert", 4, 1.0, "equalize", 8],
  [0.6, "color", 4, 1.0, "contrast", 8],
  [0.8, "equalize", 8, 0.6, "equalize", 3],
];

const SVHN_POLICY: readonly SubPolicy[] = [
  [0.9, "shearX", 4, 0.2, "invert", 3],
  [0.9, "shearY", 8, 0.7, "invert", 5],
  [0.6, "equalize", 5, 0.6, "solarize", 6],
  [0.9, "invert", 3, 0.6, "equalize", 3],
  [0.6, "equalize", 1, 0.9, "rotate", 3],
  [0.9, "shearX", 4, 0.8, "autocontrast", 3],
  [0.9, "shearY", 8, 0.4, "invert", 5],
  [0.9, "shearY", 5, 0.2, "solarize", 6],
  [0.9, "invert", 6, 0.8, "autocontrast", 1],
  [0.6, "equalize", 3, 0.9, "rotate", 3],
  [0.9, "shearX", 4, 0.3, "solarize", 3],
  [0.8, "shearY", 8, 0.7, "invert", 4],
  [0.9, "equalize", 5, 0.6, "translateY", 6],
  [0.9, "invert", 4, 0.6, "equalize", 7],
  [0.3, "contrast", 3, 0.8, "rotate", 4],
  [0.8, "invert", 5, 0.0, "translateY", 2],
  [0.7, "shearY", 6, 0.4, "solarize", 8],
  [0.6, "invert", 4, 0.8, "rotate", 4],
  [0.3, "shearY", 7, 0.9, "translateX", 3],
  [0.1, "shearX", 6, 0.6, "invert", 5],
  [0.7, "solarize", 2, 0.6, "translateY", 7],
  [0.8, "shearY", 4, 0.8, "invert", 8],
  [0.7, "shearX", 9, 0.8, "translateY", 3],
  [0.8, "shearY", 5, 0.7, "autocontrast", 3],
  [0.7, "shearX", 2, 0.1, "invert", 5],
];

export const AUTOAUGMENT_POLICIES: Record<AutoAugmentPolicyName, readonly SubPolicy[]> = {
  cifar10: CIFAR10_POLICY,
  imagenet: IMAGENET_POLICY,
  svhn: SVHN_POLICY,
};

export const AUTOAUGMENT_FILL: P.Rgb = [128, 128, 128];

export function assertAutoAugmentPolicy(name: string): asserts name is AutoAugmentPolicyName {
  if (!(name in AUTOAUGMENT_POLICIES)) {
    throw new DataError(
      "argument",
      `unknown AutoAugment policy "${name}" (known: ${Object.keys(AUTOAUGMENT_POLICIES).join(", ")})`,
    );
  }
}

/**
 * One AutoAugment op at magnitude index 0..9 (DeepVoltaire's `_image_ops`).
 * Draws a sign from `rng` for the signed ops.
 */
export function autoAugmentOp(
  img: RgbImage,
  op: AutoAugmentOp,
  magnitudeIndex: number,
  rng: Rng,
  fill: P.Rgb = AUTOAUGMENT_FILL,
): RgbImage {
  const table = AUTOAUGMENT_RANGES[op];
  if (!table) throw new DataError("argument", `unknown AutoAugment op "${op}"`);
  if (!Number.isInteger(magnitudeIndex) || magnitudeIndex < 0 || magnitudeIndex > 9) {
    throw new DataError(
      "argument",
      `AutoAugment magnitude index for ${op} must be an integer 0..9, got ${magnitudeIndex}`,
    );
  }
  const m = table[magnitudeIndex];
  switch (op) {
    case "shearX":
      return P.affine(img, [1, m * rng.sign(), 0, 0, 1, 0], "bicubic", fill);
    case "shearY":
      return P.affine(img, [1, 0, 0, m * rng.sign(), 1, 0], "bicubic", fill);
    case "translateX":
      return P.affine(img, [1, 0, m * img.width * rng.sign(), 0, 1, 0], "nearest", fill);
    case "translateY":
      return P.affine(img, [1, 0, 0, 0, 1, m * img.height * rng.sign()], "nearest", fill);
    case "rotate":
      // rotate_with_fill: RGBA rotate (nearest) composited over gray == nearest rotate with fill.
      return P.rotate(img, m, "nearest", fill);
    case "color":
      return P.enhanceColor(img, 1 + m * rng.sign());
    case "posterize":
      return P.posterize(img, m);
    case "solarize":
      return P.solarize(img, m);
    case "contrast":
      return P.enhanceContrast(img, 1 + m * rng.sign());
    case "sharpness":
      return P.enhanceSharpness(img, 1 + m * rng.sign());
    case "brightness":
      return P.enhanceBrightness(img, 1 + m * rng.sign());
    case "autocontrast":
      return P.autocontrast(img);
    case "equalize":
      return P.equalize(img);
    case "invert":
      return P.invert(img);
  }
}

/** Applies one uniformly drawn sub-policy of `policy` to `img`. */
export function autoAugment(
  img: RgbImage,
  policy: AutoAugmentPolicyName,
  rng: Rng,
  fill: P.Rgb = AUTOAUGMENT_FILL,
): RgbImage {
  const subs = AUTOAUGMENT_POLICIES[policy];
  if (!subs) assertAutoAugmentPolicy(policy);
  const [p1, op1, m1, p2, op2, m2] = subs[rng.below(subs.length)];
  let out = img;
  if (rng.float() < p1) out = autoAugmentOp(out, op1, m1, rng, fill);
  if (rng.float() < p2) out = autoAugmentOp(out, op2, m2, rng, fill);
  return out;
}
