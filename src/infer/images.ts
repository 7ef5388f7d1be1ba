// Image files → a normalised batch, through the dataset's evaluation transform exactly as
// evaluation applies it (data/transforms/pipeline.ts presetAugmentation with train: false):
// CIFAR/SVHN images as they are (32×32, nothing resized), ImageNet the reference's
// Resize(int(1.15·crop), bicubic) + CenterCrop(crop) done while decoding with sharp
// (data/imagefolder.ts, REFERENCE.md §6.3). A file that cannot be used gets its own error;
// the others are still loaded. EvalTransform does the same for one image held in memory (an
// HTTP upload in `divco serve`).
import * as fs from "node:fs";
import * as path from "node:path";
import { cropSource } from "../data/imagefolder.js";
import { openImage, openImageBytes, type ImageSource } from "../data/decode.js";
import { Augmenter, presetAugmentation } from "../data/transforms/pipeline.js";
import { Rng } from "../data/prng.js";
import type { DatasetKind } from "../data/stats.js";

/** Extensions taken from a directory argument (sharp decodes them; torchvision's list). */
const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"]);

/** A file that could not be used, and why. */
export interface FileError {
  file: string;
  message: string;
}

/**
 * The image files named by `paths`: files as given, directories as their image files (sorted,
 * recursively). A path that does not exist, or a directory without images, is an error entry.
 */
export function expandImagePaths(paths: readonly string[]): {
  files: string[];
  errors: FileError[];
} {
  const files: string[] = [];
  const errors: FileError[] = [];
  const walk = (dir: string, into: string[]) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, into);
      else if (IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) into.push(p);
    }
  };
  for (const p of paths) {
    if (!fs.existsSync(p)) {
      errors.push({ file: p, message: "no such file or directory" });
    } else if (fs.statSync(p).isDirectory()) {
      const found: string[] = [];
      walk(p, found);
      if (found.length === 0)
        errors.push({
          file: p,
          message: `no image files (${[...IMAGE_EXTENSIONS].join(" ")}) in this directory`,
        });
      files.push(...found);
    } else {
      files.push(p);
    }
  }
  return { files, errors };
}

export interface ImageBatch {
  /** N×3×H×W floats, normalised, for the files in `files` (in order). */
  data: Float32Array;
  shape: [number, number, number, number];
  files: string[];
  errors: FileError[];
}

/**
 * A dataset's evaluation transform for single images: an opened image (a file, or bytes held
 * in memory such as an upload) → one normalised 3×size×size row. Throws, naming the image,
 * when it cannot be decoded or has the wrong size for a CIFAR/SVHN model.
 */
export class EvalTransform {
  private readonly augmenter: Augmenter;
  /** Output height and width. */
  readonly size: number;
  // The evaluation transform draws nothing; the Rng only fills the pipeline's signature.
  private readonly rng = Rng.fromKeys(0);

  constructor(
    readonly dataset: DatasetKind,
    crop: number,
  ) {
    this.augmenter = new Augmenter(presetAugmentation(dataset, { train: false, cropSize: crop }));
    this.size = this.augmenter.outputSize ?? 32; // CIFAR/SVHN: used as they are, 32×32
  }

  /** Floats in one image's row: 3·size². */
  get sampleSize(): number {
    return 3 * this.size * this.size;
  }

  /** The image's row, written at `offset` of `out` (a new row when out is not given). */
  async apply(
    src: ImageSource,
    out = new Float32Array(this.sampleSize),
    offset = 0,
  ): Promise<Float32Array> {
    const crop = this.augmenter.config.crop;
    // Images used as they are must have the model's size: refused from the header, undecoded.
    const wrongSize = (w: number, h: number) =>
      new Error(
        `${w}×${h} image; ${this.dataset} models evaluate ${this.size}×${this.size} images as they are (no resize, as in evaluation): resize it to ${this.size}×${this.size} first`,
      );
    if (crop.kind === "none" && (src.width !== this.size || src.height !== this.size))
      throw wrongSize(src.width, src.height);
    const img = await cropSource(src, crop, this.rng);
    if (img.width !== this.size || img.height !== this.size) throw wrongSize(img.width, img.height);
    this.augmenter.finish(img, out, offset, this.rng);
    return out;
  }

  /** Decodes image bytes held in memory (`name` names them in errors) and transforms them. */
  async applyBytes(name: string, bytes: Buffer): Promise<Float32Array> {
    return this.apply(await openImageBytes(name, bytes));
  }
}

/**
 * Decodes `files` and applies `dataset`'s evaluation transform (crop: ImageNet's crop size).
 * Files that fail (not an image, truncated, the wrong size for a CIFAR model) are listed in
 * `errors` and left out of the batch.
 */
export async function loadEvalImages(
  files: readonly string[],
  dataset: DatasetKind,
  crop: number,
): Promise<ImageBatch> {
  const transform = new EvalTransform(dataset, crop);
  const rows: Float32Array[] = [];
  const ok: string[] = [];
  const errors: FileError[] = [];
  for (const file of files) {
    try {
      rows.push(await transform.apply(await openImage(file)));
      ok.push(file);
    } catch (e) {
      errors.push({ file, message: withoutName(file, (e as Error).message) });
    }
  }
  const sample = transform.sampleSize;
  const data = new Float32Array(rows.length * sample);
  rows.forEach((r, k) => data.set(r, k * sample));
  const size = transform.size;
  return { data, shape: [rows.length, 3, size, size], files: ok, errors };
}

/** An error message without the leading "name: " that DataError messages start with. */
export function withoutName(name: string, message: string): string {
  return message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
}
