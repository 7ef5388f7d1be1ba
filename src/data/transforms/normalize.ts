// ToTensor + Normalize fused into one pass: uint8 HWC → float32 CHW,
// value = (v/255 − mean)/std computed in float32 step by step exactly like
// torchvision (`img.float().div(255)`, then `sub_(mean).div_(std)` on float32
// tensors), via a 256-entry table per channel, so our floats equal
// torchvision's bit for bit.
import type { RgbImage } from "../image.js";
import type { Triple } from "../stats.js";

export type NormalizeTable = readonly [Float32Array, Float32Array, Float32Array];

export function normalizeTable(mean: Triple, std: Triple): NormalizeTable {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    const m = f(mean[c]);
    const s = f(std[c]);
    for (let v = 0; v < 256; v++) t[v] = f(f(f(v / 255) - m) / s);
    return t;
  }) as unknown as NormalizeTable;
}

/** Writes `img` as normalised CHW floats into out[offset … offset + 3·H·W). */
export function writeNormalizedChw(
  img: RgbImage,
  table: NormalizeTable,
  out: Float32Array,
  offset: number,
): void {
  const plane = img.width * img.height;
  const s = img.data;
  const [t0, t1, t2] = table;
  const o1 = offset + plane;
  const o2 = offset + 2 * plane;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    out[offset + p] = t0[s[i]];
    out[o1 + p] = t1[s[i + 1]];
    out[o2 + p] = t2[s[i + 2]];
  }
}
