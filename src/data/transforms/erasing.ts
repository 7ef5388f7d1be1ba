// transforms.RandomErasing as the reference uses it for "cutout"
// (REFERENCE.md §6.2–6.4, §10.7): applied to the *normalised* float CHW tensor,
// so value 0 means "the dataset mean colour", not black. Same draws as
// torchvision: apply with probability p; up to 10 tries of area ∈ scale,
// log-uniform aspect ∈ ratio, box h = round(√(area·r)), w = round(√(area/r)),
// accepted when h < H and w < W; top then left uniform.
import type { Rng } from "../prng.js";
import type { ErasingParams } from "../stats.js";
import { pyRound } from "./crop_flip.js";
import { DataError } from "../errors.js";

export interface ErasedBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export function validateErasing(e: ErasingParams): void {
  const bad = (msg: string) => new DataError("argument", `random erasing: ${msg}`);
  if (!(e.p >= 0 && e.p <= 1)) throw bad(`p must be in [0, 1], got ${e.p}`);
  if (!(e.scale[0] > 0 && e.scale[0] <= e.scale[1] && e.scale[1] <= 1))
    throw bad(`scale must satisfy 0 < lo ≤ hi ≤ 1, got (${e.scale})`);
  if (!(e.ratio[0] > 0 && e.ratio[0] <= e.ratio[1]))
    throw bad(`ratio must satisfy 0 < lo ≤ hi, got (${e.ratio})`);
}

/** Erases (sets to `value`) one random box of the CHW image at data[offset…]; returns the box or null. */
export function randomErasing(
  data: Float32Array,
  offset: number,
  channels: number,
  height: number,
  width: number,
  rng: Rng,
  params: ErasingParams,
  value = 0,
): ErasedBox | null {
  if (!(rng.float() < params.p)) return null;
  const area = height * width;
  const logLo = Math.log(params.ratio[0]);
  const logHi = Math.log(params.ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const eraseArea = area * rng.uniform(params.scale[0], params.scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const h = pyRound(Math.sqrt(eraseArea * aspect));
    const w = pyRound(Math.sqrt(eraseArea / aspect));
    if (!(h < height && w < width)) continue;
    const top = rng.below(height - h + 1);
    const left = rng.below(width - w + 1);
    for (let c = 0; c < channels; c++) {
      const plane = offset + c * area;
      for (let y = top; y < top + h; y++)
        data.fill(value, plane + y * width + left, plane + y * width + left + w);
    }
    return { top, left, height: h, width: w };
  }
  return null;
}
