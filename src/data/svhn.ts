// SVHN cropped digits (http://ufldl.stanford.edu/housenumbers/), official
// MAT v5 files train_32x32.mat, extra_32x32.mat, test_32x32.mat:
// X uint8 [32, 32, 3, N] (column-major), y double [N, 1] with labels 1..10
// where 10 stands for the digit 0 (mapped to 0 here, like torchvision).
// The reference trains on train + extra (REFERENCE.md §6.4).
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "./errors.js";
import { MemoryDataset, sharedBytes, sharedInt32 } from "./dataset.js";
import { readMat5 } from "./mat5.js";
import { candidateDirs, findDirWith, defaultDataRoot } from "./paths.js";

export type SvhnSplit = "train" | "extra" | "test";
export const SVHN_SPLITS: readonly SvhnSplit[] = ["train", "extra", "test"];
export const SVHN_FOLDER = "svhn";
export const SVHN_URL = "http://ufldl.stanford.edu/housenumbers/";
/** Published MD5s (as listed by torchvision's SVHN dataset). */
export const SVHN_FILES: Record<SvhnSplit, { file: string; md5: string }> = {
  train: { file: "train_32x32.mat", md5: "e26dedcc434d2e4c54c9b2d4a06d8373" },
  extra: { file: "extra_32x32.mat", md5: "a93ce644f1a588dc4d68dda5feec44a7" },
  test: { file: "test_32x32.mat", md5: "eb5a983be6a315427106f1b71d2ba5ee" },
};

export function locateSvhn(split: SvhnSplit, dir?: string): string {
  const file = SVHN_FILES[split].file;
  const candidates = candidateDirs(SVHN_FOLDER, dir);
  const found = findDirWith(candidates, [file]);
  if (found) return path.join(found, file);
  throw new DataError(
    "missing",
    `SVHN ${split} file ${file} not found; looked in ${candidates.join(" and ")}. Download ${SVHN_URL}${file} into ${dir ?? path.join(defaultDataRoot(), SVHN_FOLDER)}.`,
  );
}

/** One split (or "train+extra") as an in-memory dataset. */
export function loadSvhn(opts: { split: SvhnSplit | "train+extra"; dir?: string }): MemoryDataset {
  if (opts.split === "train+extra") {
    return MemoryDataset.concat("svhn-train+extra", [
      loadSvhn({ ...opts, split: "train" }),
      loadSvhn({ ...opts, split: "extra" }),
    ]);
  }
  if (!SVHN_SPLITS.includes(opts.split)) {
    throw new DataError(
      "argument",
      `SVHN has no split "${String(opts.split)}" (splits: ${SVHN_SPLITS.join(", ")}, train+extra)`,
    );
  }
  const file = locateSvhn(opts.split, opts.dir);
  return readSvhnMat(file, `svhn-${opts.split}`);
}

export function readSvhnMat(file: string, name = path.basename(file)): MemoryDataset {
  const vars = readMat5(fs.readFileSync(file), file);
  const X = vars.get("X");
  const y = vars.get("y");
  if (!X || !y)
    throw new DataError(
      "corrupt",
      `${file}: expected variables X and y, found ${[...vars.keys()].join(", ") || "none"}`,
    );
  const [h, w, c, n] = X.dims;
  if (h !== 32 || w !== 32 || c !== 3 || X.dims.length !== 4) {
    throw new DataError(
      "corrupt",
      `${file}: X has dimensions ${X.dims.join("×")}, expected 32×32×3×N`,
    );
  }
  if (!(X.data instanceof Uint8Array))
    throw new DataError("corrupt", `${file}: X is not a uint8 array`);
  const count = y.dims.reduce((a, b) => a * b, 1);
  if (count !== n) throw new DataError("corrupt", `${file}: y has ${count} labels for ${n} images`);
  const pixels = sharedBytes(n * 3072);
  const labels = sharedInt32(n);
  const src = X.data;
  for (let i = 0; i < n; i++) {
    const raw = y.data[i];
    if (!(Number.isInteger(raw) && raw >= 1 && raw <= 10))
      throw new DataError("corrupt", `${file}: label ${raw} of image ${i} outside 1..10`);
    labels[i] = raw === 10 ? 0 : raw;
    // Column-major X(row, col, ch, i) → planar CHW row-major.
    const base = i * 3072;
    for (let ch = 0; ch < 3; ch++) {
      for (let col = 0; col < 32; col++) {
        const s = base + ch * 1024 + col * 32;
        for (let row = 0; row < 32; row++) pixels[base + ch * 1024 + row * 32 + col] = src[s + row];
      }
    }
  }
  const classNames = Array.from({ length: 10 }, (_, d) => String(d));
  return new MemoryDataset({
    name,
    width: 32,
    height: 32,
    numClasses: 10,
    classNames,
    pixels,
    labels,
  });
}
