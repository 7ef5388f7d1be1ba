// The in-memory image type of the data pipeline.
//
// Layout choice: HWC (interleaved RGB, row-major), uint8. Reasons:
//  - every geometric op samples a source *pixel* at one coordinate and writes
//    all three channels, so interleaved channels share one address
//    computation and stay in one cache line;
//  - it is what Pillow (whose outputs we must match) and sharp (our JPEG/PNG
//    decoder) use, so no transposes on the decode path;
//  - the single HWC→CHW transpose happens where it is free: in the
//    normalisation pass that has to touch every value anyway to produce the
//    float NCHW batch the network wants.
// CIFAR files are stored CHW (planar); `cifarRecordToHwc` converts once per
// sample fetch.

export interface RgbImage {
  width: number;
  height: number;
  /** width*height*3 bytes, HWC order. */
  data: Uint8Array;
}

export function newImage(
  width: number,
  height: number,
  fill?: readonly [number, number, number],
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  if (fill && (fill[0] | fill[1] | fill[2]) !== 0) {
    for (let i = 0; i < data.length; i += 3) {
      data[i] = fill[0];
      data[i + 1] = fill[1];
      data[i + 2] = fill[2];
    }
  }
  return { width, height, data };
}

export function cloneImage(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/** Planar CHW (CIFAR record layout) → interleaved HWC. */
export function chwToHwc(
  src: Uint8Array,
  srcOffset: number,
  width: number,
  height: number,
  out?: Uint8Array,
): RgbImage {
  const plane = width * height;
  const data = out ?? new Uint8Array(plane * 3);
  for (let p = 0, o = 0; p < plane; p++, o += 3) {
    data[o] = src[srcOffset + p];
    data[o + 1] = src[srcOffset + plane + p];
    data[o + 2] = src[srcOffset + 2 * plane + p];
  }
  return { width, height, data };
}

/** Interleaved HWC → planar CHW bytes (the CIFAR record layout). */
export function hwcToChw(img: RgbImage, out?: Uint8Array, outOffset = 0): Uint8Array {
  const plane = img.width * img.height;
  const dst = out ?? new Uint8Array(plane * 3);
  const d = img.data;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    dst[outOffset + p] = d[i];
    dst[outOffset + plane + p] = d[i + 1];
    dst[outOffset + 2 * plane + p] = d[i + 2];
  }
  return dst;
}
