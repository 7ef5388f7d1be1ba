// Geometric train-time transforms on uint8 HWC images, with torchvision
// semantics and draw order (so a reader of the reference recognises them).
import { type RgbImage, newImage } from "../image.js";
import type { Rng } from "../prng.js";
import { DataError } from "../errors.js";

/**
 * transforms.RandomCrop(size, padding) with zero fill: pad every side by
 * `padding`, then take a size×size window at a uniform offset
 * (top drawn first, then left — torchvision's order).
 */
export function padRandomCrop(img: RgbImage, rng: Rng, size: number, padding: number): RgbImage {
  const ph = img.height + 2 * padding;
  const pw = img.width + 2 * padding;
  if (size > ph || size > pw) {
    throw new DataError("argument", `crop ${size} is larger than the padded image ${pw}×${ph}`);
  }
  const top = rng.below(ph - size + 1) - padding;
  const left = rng.below(pw - size + 1) - padding;
  return cropWithZeroFill(img, top, left, size, size);
}

/** Copies the window [top, top+h) × [left, left+w); pixels outside the source are 0. */
export function cropWithZeroFill(
  img: RgbImage,
  top: number,
  left: number,
  h: number,
  w: number,
): RgbImage {
  const out = newImage(w, h);
  const s = img.data;
  const d = out.data;
  const x0 = Math.max(0, -left);
  const x1 = Math.min(w, img.width - left);
  if (x1 <= x0) return out;
  for (let y = 0; y < h; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    const from = (sy * img.width + left + x0) * 3;
    d.set(s.subarray(from, from + (x1 - x0) * 3), (y * w + x0) * 3);
  }
  return out;
}

/** transforms.RandomHorizontalFlip(p): mirrors with probability p. */
export function randomHorizontalFlip(img: RgbImage, rng: Rng, p = 0.5): RgbImage {
  return rng.float() < p ? hflip(img) : img;
}

export function hflip(img: RgbImage): RgbImage {
  const { width: w, height: h } = img;
  const out = newImage(w, h);
  const s = img.data;
  const d = out.data;
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const si = row + x * 3;
      const di = row + (w - 1 - x) * 3;
      d[di] = s[si];
      d[di + 1] = s[si + 1];
      d[di + 2] = s[si + 2];
    }
  }
  return out;
}

/** Python's round(): half to even (torchvision computes box sizes with it). */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * transforms.RandomResizedCrop.get_params: up to 10 tries of area ∈ scale,
 * log-uniform aspect ∈ ratio; else the central crop clamped to ratio.
 * REFERENCE.md §6.3 / §10.18: ImageNet uses scale (0.1, 1), ratio (3/4, 4/3).
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropBox {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = pyRound(Math.sqrt(targetArea * aspect));
    const h = pyRound(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.below(height - h + 1);
      const left = rng.below(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number, h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = width;
    h = pyRound(w / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = height;
    w = pyRound(h * Math.max(ratio[0], ratio[1]));
  } else {
    w = width;
    h = height;
  }
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/**
 * transforms.Resize(size) with an int: the shorter side becomes `size`, the
 * longer keeps the aspect ratio (truncated, as torchvision does).
 */
export function shorterSideSize(
  width: number,
  height: number,
  size: number,
): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** transforms.CenterCrop offsets: round((dim − crop) / 2). */
export function centerCropBox(width: number, height: number, crop: number): CropBox {
  return {
    top: Math.trunc(pyRound((height - crop) / 2)),
    left: Math.trunc(pyRound((width - crop) / 2)),
    height: crop,
    width: crop,
  };
}
