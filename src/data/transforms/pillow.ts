// Pixel-exact re-implementations of the Pillow operations that AutoAugment
// (DeepVoltaire, as vendored by the reference in dataset/autoaugment.py) and
// timm's RandAugment call: Image.transform(AFFINE), Image.rotate,
// ImageEnhance.{Color,Contrast,Brightness,Sharpness}, ImageOps.{autocontrast,
// equalize, posterize, solarize, invert}.
//
// Why re-implement instead of "something similar": the paper's augmentation
// strength is defined by these exact operations (their resampling kernels,
// fill rules, truncating casts and float32 blends). Each function states the
// Pillow behaviour it reproduces; test/data/pillow_agreement.test.ts compares
// against outputs rendered by Pillow 9.4 (scripts/fixtures/data/make_pillow_fixtures.py).
//
// All functions take and return HWC RGB uint8 images (see ../image.ts) and
// never modify their input.
import { type RgbImage, newImage } from "../image.js";

export type Resample = "nearest" | "bilinear" | "bicubic";
export type Rgb = readonly [number, number, number];

const fround = Math.fround;

/** Pillow's FLOOR/COORD macros in Geometry.c (C int casts truncate toward zero). */
function floorC(v: number): number {
  return v < 0 ? Math.floor(v) : Math.trunc(v);
}
function coordC(v: number): number {
  return v < 0 ? -1 : Math.trunc(v);
}

/**
 * Image.transform(size, AFFINE, a, resample, fillcolor=fill): every output
 * pixel (x, y) samples the input at (a0·(x+½) + a1·(y+½) + a2, a3·(x+½) +
 * a4·(y+½) + a5). Pixels mapping outside keep `fill` (Pillow pre-fills the
 * output with fillcolor and passes fill=0 to the C engine).
 */
export function affine(
  img: RgbImage,
  a: readonly number[],
  resample: Resample,
  fill: Rgb,
): RgbImage {
  const out = newImage(img.width, img.height, fill);
  if (resample === "nearest") {
    if (a[1] === 0 && a[3] === 0) scaleAffineNearest(img, out, a);
    else if (fitsFixedPoint(a, img.width, img.height)) affineNearestFixed(img, out, a);
    else affineNearestFloat(img, out, a);
  } else {
    genericAffine(img, out, a, resample);
  }
  return out;
}

/** ImagingScaleAffine: separable nearest neighbour, double accumulators. */
function scaleAffineNearest(src: RgbImage, out: RgbImage, a: readonly number[]): void {
  const { width: w, height: h } = out;
  const xintab = new Int32Array(w);
  let xo = a[2] + a[0] * 0.5;
  let yo = a[5] + a[4] * 0.5;
  let xmin = w;
  let xmax = 0;
  for (let x = 0; x < w; x++) {
    const xin = coordC(xo);
    if (xin >= 0 && xin < src.width) {
      xmax = x + 1;
      if (x < xmin) xmin = x;
      xintab[x] = xin;
    }
    xo += a[0];
  }
  const s = src.data;
  const d = out.data;
  for (let y = 0; y < h; y++) {
    const yi = coordC(yo);
    if (yi >= 0 && yi < src.height) {
      const rowIn = yi * src.width * 3;
      const rowOut = y * w * 3;
      for (let x = xmin; x < xmax; x++) {
        const si = rowIn + xintab[x] * 3;
        const di = rowOut + x * 3;
        d[di] = s[si];
        d[di + 1] = s[si + 1];
        d[di + 2] = s[si + 2];
      }
    }
    yo += a[4];
  }
}

function fitsFixedPoint(a: readonly number[], w: number, h: number): boolean {
  const ok = (x: number, y: number) =>
    Math.abs(x * a[0] + y * a[1] + a[2]) < 32768 && Math.abs(x * a[3] + y * a[4] + a[5]) < 32768;
  return ok(0, 0) && ok(w, h) && ok(0, h) && ok(w, 0);
}

/** affine_fixed: nearest neighbour in 16.16 fixed point (Pillow's fast path for rotations). */
function affineNearestFixed(src: RgbImage, out: RgbImage, a: readonly number[]): void {
  const fix = (v: number) => Math.floor(v * 65536 + 0.5);
  const a0 = fix(a[0]);
  const a1 = fix(a[1]);
  const a3 = fix(a[3]);
  const a4 = fix(a[4]);
  let a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5);
  let a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
  const { width: w, height: h } = out;
  const sw = src.width;
  const sh = src.height;
  const s = src.data;
  const d = out.data;
  for (let y = 0; y < h; y++) {
    let xx = a2;
    let yy = a5;
    let di = y * w * 3;
    for (let x = 0; x < w; x++, di += 3) {
      const xin = xx >> 16;
      if (xin >= 0 && xin < sw) {
        const yin = yy >> 16;
        if (yin >= 0 && yin < sh) {
          const si = (yin * sw + xin) * 3;
          d[di] = s[si];
          d[di + 1] = s[si + 1];
          d[di + 2] = s[si + 2];
        }
      }
      xx += a0;
      yy += a3;
    }
    a2 += a1;
    a5 += a4;
  }
}

/** Pillow's float fallback for nearest affine maps too large for 16.16 fixed point. */
function affineNearestFloat(src: RgbImage, out: RgbImage, a: readonly number[]): void {
  let xo = a[2] + a[1] * 0.5 + a[0] * 0.5;
  let yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
  const { width: w, height: h } = out;
  const s = src.data;
  const d = out.data;
  for (let y = 0; y < h; y++) {
    let xx = xo;
    let yy = yo;
    let di = y * w * 3;
    for (let x = 0; x < w; x++, di += 3) {
      const xin = coordC(xx);
      if (xin >= 0 && xin < src.width) {
        const yin = coordC(yy);
        if (yin >= 0 && yin < src.height) {
          const si = (yin * src.width + xin) * 3;
          d[di] = s[si];
          d[di + 1] = s[si + 1];
          d[di + 2] = s[si + 2];
        }
      }
      xx += a[0];
      yy += a[3];
    }
    xo += a[1];
    yo += a[4];
  }
}

/**
 * ImagingGenericTransform with bilinear_filter32RGB / bicubic_filter32RGB.
 * Note Pillow's transform bicubic is the a = −1 cubic (p2 = −v1+v3, ...),
 * with edge clamping inside the image and truncation to uint8.
 */
function genericAffine(
  src: RgbImage,
  out: RgbImage,
  a: readonly number[],
  resample: Resample,
): void {
  const { width: w, height: h } = out;
  const sw = src.width;
  const sh = src.height;
  const s = src.data;
  const d = out.data;
  const xclip = (x: number) => (x < 0 ? 0 : x < sw ? x : sw - 1);
  const yclip = (y: number) => (y < 0 ? 0 : y < sh ? y : sh - 1);
  const cubic = (v1: number, v2: number, v3: number, v4: number, t: number) => {
    const p1 = v2;
    const p2 = -v1 + v3;
    const p3 = 2 * (v1 - v2) + v3 - v4;
    const p4 = -v1 + v2 - v3 + v4;
    return p1 + t * (p2 + t * (p3 + t * p4));
  };
  for (let y = 0; y < h; y++) {
    const yc = y + 0.5;
    for (let x = 0; x < w; x++) {
      const xc = x + 0.5;
      let xin = a[0] * xc + a[1] * yc + a[2];
      let yin = a[3] * xc + a[4] * yc + a[5];
      if (xin < 0 || xin >= sw || yin < 0 || yin >= sh) continue; // keeps fill
      xin -= 0.5;
      yin -= 0.5;
      let ix = floorC(xin);
      let iy = floorC(yin);
      const dx = xin - ix;
      const dy = yin - iy;
      const di = (y * w + x) * 3;
      if (resample === "bilinear") {
        const r0 = yclip(iy) * sw * 3;
        const x0 = xclip(ix) * 3;
        const x1 = xclip(ix + 1) * 3;
        const hasRow1 = iy + 1 >= 0 && iy + 1 < sh;
        const r1 = (iy + 1) * sw * 3;
        for (let b = 0; b < 3; b++) {
          let v1 = s[r0 + x0 + b] + (s[r0 + x1 + b] - s[r0 + x0 + b]) * dx;
          const v2 = hasRow1 ? s[r1 + x0 + b] + (s[r1 + x1 + b] - s[r1 + x0 + b]) * dx : v1;
          v1 = v1 + (v2 - v1) * dy;
          d[di + b] = Math.trunc(v1);
        }
      } else {
        ix -= 1;
        iy -= 1;
        const c0 = xclip(ix) * 3;
        const c1 = xclip(ix + 1) * 3;
        const c2 = xclip(ix + 2) * 3;
        const c3 = xclip(ix + 3) * 3;
        const rowOk = (yy: number) => yy >= 0 && yy < sh;
        const r0 = yclip(iy) * sw * 3;
        for (let b = 0; b < 3; b++) {
          const row = (r: number) =>
            cubic(s[r + c0 + b], s[r + c1 + b], s[r + c2 + b], s[r + c3 + b], dx);
          const v1 = row(r0);
          const v2 = rowOk(iy + 1) ? row((iy + 1) * sw * 3) : v1;
          const v3 = rowOk(iy + 2) ? row((iy + 2) * sw * 3) : v2;
          const v4 = rowOk(iy + 3) ? row((iy + 3) * sw * 3) : v3;
          const v = cubic(v1, v2, v3, v4, dy);
          d[di + b] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
        }
      }
    }
  }
}

/** Python's round(x, 15) for |x| ≤ 1 (correctly rounded decimal). */
function round15(x: number): number {
  return Number.parseFloat(x.toFixed(15));
}

/**
 * Image.rotate(angle, resample, fillcolor=fill) without expand: counter-
 * clockwise degrees about the image centre (w/2, h/2). Multiples of 90° take
 * Pillow's exact transpose shortcuts.
 */
export function rotate(img: RgbImage, angleDeg: number, resample: Resample, fill: Rgb): RgbImage {
  const angle = ((angleDeg % 360) + 360) % 360; // Python's float modulo
  const { width: w, height: h } = img;
  if (angle === 0) return { width: w, height: h, data: img.data.slice() };
  if (angle === 180 || ((angle === 90 || angle === 270) && w === h))
    return transposeRotate(img, angle);
  const rad = -(angle * (Math.PI / 180));
  const m = [
    round15(Math.cos(rad)),
    round15(Math.sin(rad)),
    0,
    round15(-Math.sin(rad)),
    round15(Math.cos(rad)),
    0,
  ];
  const cx = w / 2;
  const cy = h / 2;
  const m2 = m[0] * -cx + m[1] * -cy + m[2];
  const m5 = m[3] * -cx + m[4] * -cy + m[5];
  m[2] = m2 + cx;
  m[5] = m5 + cy;
  return affine(img, m, resample, fill);
}

function transposeRotate(img: RgbImage, angle: number): RgbImage {
  const { width: w, height: h } = img;
  const out = newImage(w, h);
  const s = img.data;
  const d = out.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Source pixel that lands on (x, y) for a counter-clockwise rotation.
      let sx: number, sy: number;
      if (angle === 90) {
        sx = w - 1 - y;
        sy = x;
      } else if (angle === 270) {
        sx = y;
        sy = h - 1 - x;
      } else {
        sx = w - 1 - x;
        sy = h - 1 - y;
      }
      const si = (sy * w + sx) * 3;
      const di = (y * w + x) * 3;
      d[di] = s[si];
      d[di + 1] = s[si + 1];
      d[di + 2] = s[si + 2];
    }
  }
  return out;
}

/**
 * Image.blend(degenerate, image, factor) as ImageEnhance uses it: C float32
 * arithmetic `in1 + alpha·(in2 − in1)`, truncated; clamped only when
 * extrapolating (factor outside [0, 1]).
 */
export function blend(
  degenerate: Uint8Array,
  image: Uint8Array,
  factor: number,
  width: number,
  height: number,
): RgbImage {
  const alpha = fround(factor);
  if (alpha === 0) return { width, height, data: degenerate.slice() };
  if (alpha === 1) return { width, height, data: image.slice() };
  // fround(alpha·d) for every possible difference d ∈ [−255, 255].
  const scaled = new Float64Array(511);
  for (let diff = -255; diff <= 255; diff++) scaled[diff + 255] = fround(alpha * diff);
  const n = width * height * 3;
  const out = new Uint8Array(n);
  if (alpha >= 0 && alpha <= 1) {
    for (let i = 0; i < n; i++) {
      const a = degenerate[i];
      out[i] = Math.trunc(fround(a + scaled[image[i] - a + 255]));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const a = degenerate[i];
      const t = fround(a + scaled[image[i] - a + 255]);
      out[i] = t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
    }
  }
  return { width, height, data: out };
}

/** convert("L"): ITU-R 601-2 luma in 16.16 fixed point with rounding (Pillow's L24 macro). */
export function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
}

/** ImageEnhance.Color: blend with the grayscale (L→RGB) image. */
export function enhanceColor(img: RgbImage, factor: number): RgbImage {
  const s = img.data;
  const gray = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i += 3) {
    const l = luma(s[i], s[i + 1], s[i + 2]);
    gray[i] = l;
    gray[i + 1] = l;
    gray[i + 2] = l;
  }
  return blend(gray, s, factor, img.width, img.height);
}

/** ImageEnhance.Contrast: blend with a flat image at the rounded mean luma. */
export function enhanceContrast(img: RgbImage, factor: number): RgbImage {
  const s = img.data;
  let sum = 0;
  for (let i = 0; i < s.length; i += 3) sum += luma(s[i], s[i + 1], s[i + 2]);
  const mean = Math.trunc(sum / (img.width * img.height) + 0.5);
  const flat = new Uint8Array(s.length).fill(mean);
  return blend(flat, s, factor, img.width, img.height);
}

/** ImageEnhance.Brightness: blend with black. */
export function enhanceBrightness(img: RgbImage, factor: number): RgbImage {
  return blend(new Uint8Array(img.data.length), img.data, factor, img.width, img.height);
}

/** ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH of the image. */
export function enhanceSharpness(img: RgbImage, factor: number): RgbImage {
  return blend(smooth(img).data, img.data, factor, img.width, img.height);
}

// ImageFilter.SMOOTH: 3×3 kernel [1 1 1; 1 5 1; 1 1 1] / 13, normalised in float32.
const K_EDGE = fround(1 / 13);
const K_CENTRE = fround(5 / 13);

/**
 * ImageFilter.SMOOTH via Pillow's ImagingFilter3x3: float32 accumulation
 * starting at 0.5 (rounding), rows summed bottom-to-top, truncated and
 * clamped; the one-pixel border is copied unfiltered.
 */
export function smooth(img: RgbImage): RgbImage {
  const { width: w, height: h } = img;
  const s = img.data;
  const out = new Uint8Array(s);
  if (w < 3 || h < 3) return { width: w, height: h, data: out };
  const row3 = (i: number, kl: number, kc: number, kr: number) =>
    fround(fround(fround(s[i - 3] * kl) + fround(s[i] * kc)) + fround(s[i + 3] * kr));
  const stride = w * 3;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * stride + x * 3;
      for (let b = 0; b < 3; b++) {
        const c = i + b;
        let ss = fround(0.5);
        ss = fround(ss + row3(c + stride, K_EDGE, K_EDGE, K_EDGE));
        ss = fround(ss + row3(c, K_EDGE, K_CENTRE, K_EDGE));
        ss = fround(ss + row3(c - stride, K_EDGE, K_EDGE, K_EDGE));
        out[c] = ss <= 0 ? 0 : ss >= 255 ? 255 : Math.trunc(ss);
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** Applies one 256-entry table per channel (Image.point with a 768-entry lut). */
export function applyLut(
  img: RgbImage,
  luts: readonly [Uint8Array, Uint8Array, Uint8Array] | Uint8Array,
): RgbImage {
  const s = img.data;
  const out = new Uint8Array(s.length);
  const [l0, l1, l2] = luts instanceof Uint8Array ? [luts, luts, luts] : luts;
  for (let i = 0; i < s.length; i += 3) {
    out[i] = l0[s[i]];
    out[i + 1] = l1[s[i + 1]];
    out[i + 2] = l2[s[i + 2]];
  }
  return { width: img.width, height: img.height, data: out };
}

function channelHistograms(img: RgbImage): [Float64Array, Float64Array, Float64Array] {
  const hs: [Float64Array, Float64Array, Float64Array] = [
    new Float64Array(256),
    new Float64Array(256),
    new Float64Array(256),
  ];
  const s = img.data;
  for (let i = 0; i < s.length; i += 3) {
    hs[0][s[i]]++;
    hs[1][s[i + 1]]++;
    hs[2][s[i + 2]]++;
  }
  return hs;
}

/** ImageOps.autocontrast(img) with cutoff 0: per channel, stretch [lo, hi] to [0, 255]. */
export function autocontrast(img: RgbImage): RgbImage {
  const luts = channelHistograms(img).map((h) => {
    const lut = new Uint8Array(256);
    let lo = 0;
    while (lo < 256 && !h[lo]) lo++;
    let hi = 255;
    while (hi >= 0 && !h[hi]) hi--;
    if (hi <= lo) {
      for (let i = 0; i < 256; i++) lut[i] = i;
      return lut;
    }
    const scale = 255.0 / (hi - lo);
    const offset = -lo * scale;
    for (let i = 0; i < 256; i++) {
      const v = Math.trunc(i * scale + offset);
      lut[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return lut;
  }) as [Uint8Array, Uint8Array, Uint8Array];
  return applyLut(img, luts);
}

/** ImageOps.equalize(img): per-channel cumulative-histogram equalisation (Pillow's integer steps). */
export function equalize(img: RgbImage): RgbImage {
  const luts = channelHistograms(img).map((h) => {
    const lut = new Uint8Array(256);
    const nonzero: number[] = [];
    for (let i = 0; i < 256; i++) if (h[i]) nonzero.push(h[i]);
    let step = 0;
    if (nonzero.length > 1) {
      const total = nonzero.reduce((a, b) => a + b, 0);
      step = Math.floor((total - nonzero[nonzero.length - 1]) / 255);
    }
    if (!step) {
      for (let i = 0; i < 256; i++) lut[i] = i;
      return lut;
    }
    let n = Math.floor(step / 2);
    for (let i = 0; i < 256; i++) {
      const v = Math.floor(n / step);
      lut[i] = v > 255 ? 255 : v; // Image.point clips lut entries to uint8
      n += h[i];
    }
    return lut;
  }) as [Uint8Array, Uint8Array, Uint8Array];
  return applyLut(img, luts);
}

/** ImageOps.posterize(img, bits): keep the `bits` most significant bits. */
export function posterize(img: RgbImage, bits: number): RgbImage {
  if (!Number.isInteger(bits) || bits < 0 || bits > 8)
    throw new RangeError(`posterize bits must be an integer in [0, 8], got ${bits}`);
  const mask = ~(2 ** (8 - bits) - 1) & 0xff;
  const lut = new Uint8Array(256);
  for (let i = 0; i < 256; i++) lut[i] = i & mask;
  return applyLut(img, lut);
}

/** ImageOps.solarize(img, threshold): invert every value ≥ threshold (threshold may be fractional). */
export function solarize(img: RgbImage, threshold: number): RgbImage {
  const lut = new Uint8Array(256);
  for (let i = 0; i < 256; i++) lut[i] = i < threshold ? i : 255 - i;
  return applyLut(img, lut);
}

/** timm's solarize_add: add `add` (clipped at 255) to values below `threshold`. */
export function solarizeAdd(img: RgbImage, add: number, threshold = 128): RgbImage {
  const lut = new Uint8Array(256);
  for (let i = 0; i < 256; i++) lut[i] = i < threshold ? Math.min(255, i + add) : i;
  return applyLut(img, lut);
}

/** ImageOps.invert(img). */
export function invert(img: RgbImage): RgbImage {
  const lut = new Uint8Array(256);
  for (let i = 0; i < 256; i++) lut[i] = 255 - i;
  return applyLut(img, lut);
}
