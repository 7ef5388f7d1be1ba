// Dataset abstraction shared by the loader and its worker threads.
//
// A dataset is an indexable list of (RGB image, integer label). In-memory
// datasets (CIFAR, SVHN) keep all pixels in one buffer, allocated as a
// SharedArrayBuffer so worker threads read the same memory instead of each
// receiving a 150 MB copy; `source()` describes how a worker reopens it.
import { type RgbImage, chwToHwc } from "./image.js";
import { DataError } from "./errors.js";

/** Serializable recipe to reopen a dataset in a worker thread (structured-clone safe). */
export type DatasetSource =
  | {
      kind: "memory";
      name: string;
      width: number;
      height: number;
      numClasses: number;
      classNames: string[];
      /** N records of 3·H·W bytes, planar CHW per record. */
      pixels: Uint8Array;
      labels: Int32Array;
    }
  | {
      kind: "folder";
      name: string;
      files: string[];
      labels: Int32Array;
      classNames: string[];
    };

export interface ImageDataset {
  readonly name: string;
  readonly size: number;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly labels: Int32Array;
  /** Decoded image i (HWC RGB). Folder datasets decode asynchronously. */
  getImage(i: number): RgbImage | Promise<RgbImage>;
  source(): DatasetSource;
}

/** Allocates bytes in shared memory so worker threads can map them without copying. */
export function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}
export function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(n * 4));
}

export interface MemoryDatasetInit {
  name: string;
  width: number;
  height: number;
  numClasses: number;
  classNames: readonly string[];
  pixels: Uint8Array;
  labels: Int32Array;
}

/** Fixed-size images held in one planar (CHW per record) byte buffer. */
export class MemoryDataset implements ImageDataset {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  readonly recordBytes: number;

  constructor(init: MemoryDatasetInit) {
    this.name = init.name;
    this.width = init.width;
    this.height = init.height;
    this.numClasses = init.numClasses;
    this.classNames = init.classNames;
    this.pixels = init.pixels;
    this.labels = init.labels;
    this.recordBytes = 3 * init.width * init.height;
    if (this.pixels.length !== this.labels.length * this.recordBytes) {
      throw new DataError(
        "argument",
        `${this.name}: ${this.pixels.length} pixel bytes do not hold ${this.labels.length} images of ${this.recordBytes} bytes`,
      );
    }
  }

  get size(): number {
    return this.labels.length;
  }

  getImage(i: number, out?: Uint8Array): RgbImage {
    if (!(i >= 0 && i < this.size))
      throw new DataError("argument", `${this.name}: index ${i} outside 0..${this.size - 1}`);
    return chwToHwc(this.pixels, i * this.recordBytes, this.width, this.height, out);
  }

  /** The planar CHW bytes of image i (no copy). */
  record(i: number): Uint8Array {
    return this.pixels.subarray(i * this.recordBytes, (i + 1) * this.recordBytes);
  }

  source(): DatasetSource {
    return {
      kind: "memory",
      name: this.name,
      width: this.width,
      height: this.height,
      numClasses: this.numClasses,
      classNames: [...this.classNames],
      pixels: this.pixels,
      labels: this.labels,
    };
  }

  /** A new dataset with the given images (copied into shared memory). */
  subset(indices: ArrayLike<number>, name = `${this.name}[subset]`): MemoryDataset {
    const pixels = sharedBytes(indices.length * this.recordBytes);
    const labels = sharedInt32(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      pixels.set(this.record(i), k * this.recordBytes);
      labels[k] = this.labels[i];
    }
    return new MemoryDataset({ ...this, name, pixels, labels, classNames: this.classNames });
  }

  /** Concatenation (e.g. SVHN train + extra), copied into shared memory. */
  static concat(name: string, parts: readonly MemoryDataset[]): MemoryDataset {
    const first = parts[0];
    for (const p of parts) {
      if (
        p.width !== first.width ||
        p.height !== first.height ||
        p.numClasses !== first.numClasses
      ) {
        throw new DataError(
          "argument",
          `cannot concatenate ${p.name} with ${first.name}: different image size or classes`,
        );
      }
    }
    const total = parts.reduce((n, p) => n + p.size, 0);
    const pixels = sharedBytes(total * first.recordBytes);
    const labels = sharedInt32(total);
    let at = 0;
    for (const p of parts) {
      pixels.set(p.pixels, at * first.recordBytes);
      labels.set(p.labels, at);
      at += p.size;
    }
    return new MemoryDataset({
      name,
      width: first.width,
      height: first.height,
      numClasses: first.numClasses,
      classNames: first.classNames,
      pixels,
      labels,
    });
  }
}
