// The CIFAR-10 sample embedded in the package (data/cifar10-sample/, see its
// README): 2000 balanced training images and the first 1000 test images.
// Found relative to this module (import.meta.url), never the working directory.
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { DataError } from "./errors.js";
import type { MemoryDataset } from "./dataset.js";
import { readCifarFiles, CIFAR10_CLASSES, type Split } from "./cifar.js";

interface Manifest {
  recordBytes: number;
  train: string[];
  test: string[];
  records: Record<string, number>;
}

/** data/cifar10-sample relative to the installed package (src/data or dist/src/data). */
export function cifar10SampleDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Compiled: <pkg>/dist/src/data; run from source: <pkg>/src/data.
  for (const up of [
    ["..", "..", ".."],
    ["..", ".."],
  ]) {
    const dir = path.resolve(here, ...up, "data", "cifar10-sample");
    if (fs.existsSync(path.join(dir, "manifest.json"))) return dir;
  }
  throw new DataError(
    "missing",
    `the embedded CIFAR-10 sample (data/cifar10-sample/manifest.json) is not installed next to ${here}`,
  );
}

export function loadCifar10Sample(split: Split = "train"): MemoryDataset {
  if (split !== "train" && split !== "test")
    throw new DataError(
      "argument",
      `CIFAR-10 sample has no split "${String(split)}" (splits: train, test)`,
    );
  const dir = cifar10SampleDir();
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest;
  const files = manifest[split].map((f) => ({
    path: path.join(dir, f),
    records: manifest.records[f],
  }));
  return readCifarFiles(files, {
    name: `cifar10-sample-${split}`,
    labelBytes: 1,
    labelIndex: 0,
    numClasses: 10,
    classNames: CIFAR10_CLASSES,
  });
}
