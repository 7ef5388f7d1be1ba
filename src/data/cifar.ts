// CIFAR-10 / CIFAR-100 binary-format readers
// (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version").
//
// CIFAR-10 record: 1 label byte + 3072 pixel bytes (R, G, B planes of 32×32).
// CIFAR-100 record: 1 coarse-label byte + 1 fine-label byte + 3072 pixel bytes.
// Every file's size and every label is validated; errors name the file,
// the expected and the actual value.
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError, expectSize } from "./errors.js";
import { MemoryDataset, sharedBytes, sharedInt32 } from "./dataset.js";
import { candidateDirs, findDirWith, defaultDataRoot } from "./paths.js";

const PIXELS = 3 * 32 * 32;

export type Split = "train" | "test";

export interface CifarSpec {
  /** Name used by the CLI and in messages. */
  name: "cifar10" | "cifar100";
  title: string;
  /** Directory the official tarball extracts into. */
  folder: string;
  url: string;
  /** MD5 of the tarball published on the CIFAR page. */
  md5: string;
  tarballBytes: number;
  files: Record<Split, readonly { file: string; records: number }[]>;
  labelBytes: 1 | 2;
  numClasses: { fine: number; coarse: number };
  classNameFiles: { fine: string; coarse?: string };
}

export const CIFAR10: CifarSpec = {
  name: "cifar10",
  title: "CIFAR-10",
  folder: "cifar-10-batches-bin",
  url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
  md5: "c32a1d4ab5d03f1284b67883e8d87530",
  tarballBytes: 170052171,
  files: {
    train: [1, 2, 3, 4, 5].map((b) => ({ file: `data_batch_${b}.bin`, records: 10000 })),
    test: [{ file: "test_batch.bin", records: 10000 }],
  },
  labelBytes: 1,
  numClasses: { fine: 10, coarse: 10 },
  classNameFiles: { fine: "batches.meta.txt" },
};

export const CIFAR100: CifarSpec = {
  name: "cifar100",
  title: "CIFAR-100",
  folder: "cifar-100-binary",
  url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
  md5: "03b5dce01913d631647c71ecec9e9cb8",
  tarballBytes: 168513733,
  files: {
    train: [{ file: "train.bin", records: 50000 }],
    test: [{ file: "test.bin", records: 10000 }],
  },
  labelBytes: 2,
  numClasses: { fine: 100, coarse: 20 },
  classNameFiles: { fine: "fine_label_names.txt", coarse: "coarse_label_names.txt" },
};

export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

export interface CifarOptions {
  split: Split;
  /** A directory holding the files (or holding the tarball's folder). Default: the data cache root. */
  dir?: string;
  /** CIFAR-100 only: which label to return. Default "fine" (100 classes). */
  labels?: "fine" | "coarse";
}

export function loadCifar10(opts: CifarOptions): MemoryDataset {
  return loadCifar(CIFAR10, opts);
}

export function loadCifar100(opts: CifarOptions): MemoryDataset {
  return loadCifar(CIFAR100, opts);
}

/** Directory holding all files of `split`, or a DataError saying where we looked and how to get it. */
export function locateCifar(spec: CifarSpec, split: Split, dir?: string): string {
  assertSplit(spec, split);
  const files = spec.files[split].map((f) => f.file);
  const candidates = candidateDirs(spec.folder, dir);
  const found = findDirWith(candidates, files);
  if (found) return found;
  const root = dir ?? defaultDataRoot();
  throw new DataError(
    "missing",
    `${spec.title} ${split} files (${files.join(", ")}) not found; looked in ${candidates.join(" and ")}. ` +
      `Download with \`divco data get ${spec.name} --dir ${root}\`, or extract ${spec.url} into ${root}.`,
  );
}

function assertSplit(spec: CifarSpec, split: string): asserts split is Split {
  if (split !== "train" && split !== "test") {
    throw new DataError("argument", `${spec.title} has no split "${split}" (splits: train, test)`);
  }
}

export function loadCifar(spec: CifarSpec, opts: CifarOptions): MemoryDataset {
  const dir = locateCifar(spec, opts.split, opts.dir);
  const kind = opts.labels ?? "fine";
  if (kind !== "fine" && kind !== "coarse")
    throw new DataError("argument", `labels must be "fine" or "coarse", got "${String(kind)}"`);
  const files = spec.files[opts.split].map((f) => ({
    path: path.join(dir, f.file),
    records: f.records,
  }));
  const ds = readCifarFiles(files, {
    name: `${spec.name}-${opts.split}`,
    labelBytes: spec.labelBytes,
    labelIndex: spec.labelBytes === 2 && kind === "fine" ? 1 : 0,
    numClasses: kind === "coarse" ? spec.numClasses.coarse : spec.numClasses.fine,
    classNames: readClassNames(
      dir,
      kind === "coarse" ? spec.classNameFiles.coarse : spec.classNameFiles.fine,
    ),
  });
  return ds;
}

export interface CifarReadSpec {
  name: string;
  labelBytes: 1 | 2;
  /** Which label byte to use (CIFAR-100: 0 coarse, 1 fine). */
  labelIndex: number;
  numClasses: number;
  classNames?: string[] | null;
}

/**
 * Reads CIFAR-format record files into one shared-memory dataset. `records`
 * (when given) is the exact count the file must hold; otherwise the size only
 * has to be a whole number of records.
 */
export function readCifarFiles(
  files: readonly { path: string; records?: number }[],
  spec: CifarReadSpec,
): MemoryDataset {
  const rec = spec.labelBytes + PIXELS;
  const buffers: Buffer[] = [];
  let total = 0;
  for (const f of files) {
    let size: number;
    try {
      size = fs.statSync(f.path).size;
    } catch {
      throw new DataError("missing", `${f.path}: file not found`);
    }
    if (f.records !== undefined) expectSize(f.path, f.records * rec, size);
    else if (size === 0 || size % rec !== 0) {
      throw new DataError(
        "truncated",
        `${f.path}: size ${size} bytes is not a whole number of ${rec}-byte records`,
      );
    }
    const buf = fs.readFileSync(f.path);
    expectSize(f.path, size, buf.length); // file changed while reading
    buffers.push(buf);
    total += buf.length / rec;
  }
  const pixels = sharedBytes(total * PIXELS);
  const labels = sharedInt32(total);
  let at = 0;
  files.forEach((f, k) => {
    const buf = buffers[k];
    const n = buf.length / rec;
    for (let r = 0; r < n; r++) {
      const off = r * rec;
      const label = buf[off + spec.labelIndex];
      if (label >= spec.numClasses) {
        throw new DataError(
          "corrupt",
          `${f.path}: record ${r} has label ${label}, expected 0..${spec.numClasses - 1}`,
        );
      }
      if (spec.labelBytes === 2 && spec.labelIndex === 1 && buf[off] >= 20) {
        throw new DataError(
          "corrupt",
          `${f.path}: record ${r} has coarse label ${buf[off]}, expected 0..19`,
        );
      }
      labels[at] = label;
      pixels.set(buf.subarray(off + spec.labelBytes, off + rec), at * PIXELS);
      at++;
    }
  });
  const classNames =
    spec.classNames && spec.classNames.length === spec.numClasses
      ? spec.classNames
      : defaultNames(spec.numClasses);
  return new MemoryDataset({
    name: spec.name,
    width: 32,
    height: 32,
    numClasses: spec.numClasses,
    classNames,
    pixels,
    labels,
  });
}

function defaultNames(n: number): string[] {
  return n === 10 ? [...CIFAR10_CLASSES] : Array.from({ length: n }, (_, i) => `class_${i}`);
}

function readClassNames(dir: string, file: string | undefined): string[] | null {
  if (!file) return null;
  try {
    return fs
      .readFileSync(path.join(dir, file), "utf8")
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  } catch {
    return null;
  }
}

/** Per-file findings of `checkCifar` (sizes and label ranges), without loading pixels into memory. */
export interface FileCheck {
  file: string;
  ok: boolean;
  bytes: number | null;
  expectedBytes: number;
  problem?: string;
  classCounts?: number[];
}

export function checkCifar(
  spec: CifarSpec,
  dir?: string,
): { dir: string | null; files: FileCheck[] } {
  const all = [...spec.files.train, ...spec.files.test];
  const candidates = candidateDirs(spec.folder, dir);
  const found =
    findDirWith(
      candidates,
      all.map((f) => f.file),
    ) ??
    candidates.find((c) => fs.existsSync(c)) ??
    null;
  const rec = spec.labelBytes + PIXELS;
  const files = all.map((f): FileCheck => {
    const expectedBytes = f.records * rec;
    const p = found ? path.join(found, f.file) : f.file;
    if (!found || !fs.existsSync(p))
      return { file: p, ok: false, bytes: null, expectedBytes, problem: "missing" };
    const bytes = fs.statSync(p).size;
    if (bytes !== expectedBytes) {
      return {
        file: p,
        ok: false,
        bytes,
        expectedBytes,
        problem: `expected ${expectedBytes} bytes, found ${bytes}`,
      };
    }
    const buf = fs.readFileSync(p);
    const counts = new Array<number>(spec.numClasses.fine).fill(0);
    const li = spec.labelBytes - 1; // the fine label is the last label byte
    for (let r = 0; r < f.records; r++) {
      const label = buf[r * rec + li];
      if (label >= spec.numClasses.fine) {
        return {
          file: p,
          ok: false,
          bytes,
          expectedBytes,
          problem: `record ${r} has label ${label}, expected 0..${spec.numClasses.fine - 1}`,
        };
      }
      counts[label]++;
    }
    return { file: p, ok: true, bytes, expectedBytes, classCounts: counts };
  });
  return { dir: found, files };
}
