// ImageNet-style folders: root/<split>/<class>/<image>, classes in sorted
// order (torchvision ImageFolder's convention), decoded with sharp (libvips) to the pixels
// Pillow's convert("RGB") gives (decode.ts).
//
// Train geometry is RandomResizedCrop(scale (0.1, 1), ratio (3/4, 4/3),
// bicubic) and eval geometry Resize(int(1.15·crop), bicubic) + CenterCrop
// (REFERENCE.md §6.3, §10.18); both run inside sharp so the full-resolution
// image never round-trips through JavaScript. sharp's "cubic" kernel is
// Catmull-Rom, the same a = −0.5 cubic Pillow's BICUBIC resize uses (both
// antialias when shrinking), so values are close to but not bit-identical
// with Pillow's.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Sharp } from "sharp";
import type { RgbImage } from "./image.js";
import type { Rng } from "./prng.js";
import { DataError } from "./errors.js";
import {
  decodeRgb,
  decodeWith,
  openImage,
  sourceToRgb,
  transformRgb,
  type ImageSource,
} from "./decode.js";
import { sharedInt32, type DatasetSource } from "./dataset.js";
import type { CroppingDataset } from "./batch_fill.js";
import type { CropConfig } from "./transforms/pipeline.js";
import {
  randomResizedCropBox,
  shorterSideSize,
  centerCropBox,
  padRandomCrop,
} from "./transforms/crop_flip.js";

/** torchvision IMG_EXTENSIONS. */
const IMAGE_EXTENSIONS = new Set([
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
]);

export class ImageFolderDataset implements CroppingDataset {
  readonly name: string;
  readonly files: string[];
  readonly labels: Int32Array;
  readonly classNames: readonly string[];

  private constructor(
    name: string,
    files: string[],
    labels: Int32Array,
    classNames: readonly string[],
  ) {
    this.name = name;
    this.files = files;
    this.labels = labels;
    this.classNames = classNames;
  }

  get size(): number {
    return this.files.length;
  }
  get numClasses(): number {
    return this.classNames.length;
  }

  /** Scans root/<split>/<class>/*; `split` is a sub-folder name such as "train" or "val". */
  static open(root: string, split: string): ImageFolderDataset {
    const dir = path.resolve(root, split);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      const available = fs.existsSync(root)
        ? fs.readdirSync(root).filter((d) => fs.statSync(path.join(root, d)).isDirectory())
        : [];
      throw new DataError(
        fs.existsSync(root) ? "argument" : "missing",
        fs.existsSync(root)
          ? `image folder ${root} has no split "${split}" (found: ${available.join(", ") || "no sub-folders"})`
          : `image folder ${root} does not exist; expected ${path.join(root, split, "<class>", "<image>")}`,
      );
    }
    const classNames = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    if (classNames.length === 0)
      throw new DataError(
        "missing",
        `${dir}: no class sub-folders (expected ${dir}/<class>/<image>)`,
      );
    const files: string[] = [];
    const labels: number[] = [];
    classNames.forEach((cls, label) => {
      for (const f of listImages(path.join(dir, cls))) {
        files.push(f);
        labels.push(label);
      }
    });
    if (files.length === 0)
      throw new DataError(
        "missing",
        `${dir}: no images with extensions ${[...IMAGE_EXTENSIONS].join(" ")}`,
      );
    const shared = sharedInt32(labels.length);
    shared.set(labels);
    return new ImageFolderDataset(
      `${path.basename(path.resolve(root))}-${split}`,
      files,
      shared,
      classNames,
    );
  }

  static fromSource(src: Extract<DatasetSource, { kind: "folder" }>): ImageFolderDataset {
    return new ImageFolderDataset(src.name, src.files, src.labels, src.classNames);
  }

  source(): DatasetSource {
    return {
      kind: "folder",
      name: this.name,
      files: this.files,
      labels: this.labels,
      classNames: [...this.classNames],
    };
  }

  /** Full-size decoded image i, RGB as Pillow's convert("RGB") gives it (decode.ts). */
  async getImage(i: number): Promise<RgbImage> {
    return decodeRgb(this.fileAt(i));
  }

  async loadCropped(i: number, crop: CropConfig, rng: Rng): Promise<RgbImage> {
    return cropSource(await openImage(this.fileAt(i)), crop, rng);
  }

  private fileAt(i: number): string {
    if (!(i >= 0 && i < this.files.length))
      throw new DataError(
        "argument",
        `${this.name}: index ${i} outside 0..${this.files.length - 1}`,
      );
    return this.files[i];
  }
}

/**
 * An opened image cropped as `crop` says (the geometric part of a transform): what
 * ImageFolderDataset.loadCropped does for its files, for any ImageSource (an uploaded image too).
 */
export async function cropSource(src: ImageSource, crop: CropConfig, rng: Rng): Promise<RgbImage> {
  switch (crop.kind) {
    case "randomResized": {
      const full = await sourceToRgb(src);
      const box = randomResizedCropBox(full.width, full.height, rng, crop.scale, crop.ratio);
      return transformRgb(src.file, full, (s) =>
        s.extract(box).resize(crop.size, crop.size, { kernel: "cubic", fit: "fill" }),
      );
    }
    case "resizeCenter": {
      const size = shorterSideSize(src.width, src.height, crop.resize);
      const box = centerCropBox(size.width, size.height, crop.size);
      const geometry = (s: Sharp) =>
        s.resize(size.width, size.height, { kernel: "cubic", fit: "fill" }).extract(box);
      // Most files resize while decoding; CMYK and 16-bit gray ones become RGB first.
      return src.pixels === "plain"
        ? decodeWith(src, geometry)
        : transformRgb(src.file, await sourceToRgb(src), geometry);
    }
    case "pad":
      return padRandomCrop(await sourceToRgb(src), rng, crop.size, crop.padding);
    case "none":
      return sourceToRgb(src);
  }
}

function listImages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs
      .readdirSync(d, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}
