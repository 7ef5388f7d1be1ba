// Image files → a normalised batch, through the dataset's evaluation transform exactly as
// evaluation applies it (data/transforms/pipeline.ts presetAugmentation with train: false):
// CIFAR/SVHN images as they are (32×32, nothing resized), ImageNet the reference's
// Resize(int(1.15·crop), bicubic) + CenterCrop(crop) done while decoding with sharp
// (data/imagefolder.ts, REFERENCE.md §6.3). A file that cannot be used gets its own error;
// the others are still loaded.
import * as fs from "node:fs";
import * as path from "node:path";
import { ImageFolderDataset } from "../data/imagefolder.js";
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
 * Decodes `files` and applies `dataset`'s evaluation transform (crop: ImageNet's crop size).
 * Files that fail (not an image, truncated, the wrong size for a CIFAR model) are listed in
 * `errors` and left out of the batch.
 */
export async function loadEvalImages(
  files: readonly string[],
  dataset: DatasetKind,
  crop: number,
): Promise<ImageBatch> {
  const augmenter = new Augmenter(presetAugmentation(dataset, { train: false, cropSize: crop }));
  const geometry = augmenter.config.crop;
  const size = augmenter.outputSize ?? 32; // CIFAR/SVHN: used as they are, 32×32
  const ds = ImageFolderDataset.fromSource({
    kind: "folder",
    name: "images",
    files: [...files],
    labels: new Int32Array(files.length),
    classNames: [],
  });
  const sample = 3 * size * size;
  const rows: Float32Array[] = [];
  const ok: string[] = [];
  const errors: FileError[] = [];
  // The evaluation transform draws nothing; the Rng only fills the pipeline's signature.
  const rng = Rng.fromKeys(0);
  for (let i = 0; i < files.length; i++) {
    try {
      const img = await ds.loadCropped(i, geometry, rng);
      if (img.width !== size || img.height !== size)
        throw new Error(
          `${img.width}×${img.height} image; ${dataset} models evaluate ${size}×${size} images as they are (no resize, as in evaluation): resize it to ${size}×${size} first`,
        );
      const row = new Float32Array(sample);
      augmenter.finish(img, row, 0, rng);
      rows.push(row);
      ok.push(files[i]);
    } catch (e) {
      const message = (e as Error).message;
      // DataError messages already start with the file name.
      errors.push({
        file: files[i],
        message: message.startsWith(`${files[i]}: `) ? message.slice(files[i].length + 2) : message,
      });
    }
  }
  const data = new Float32Array(rows.length * sample);
  rows.forEach((r, k) => data.set(r, k * sample));
  return { data, shape: [rows.length, 3, size, size], files: ok, errors };
}
