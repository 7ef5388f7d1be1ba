// Helpers for the data tests: repository paths, the shared full CIFAR-10, temporary directories.
import { fileURLToPath } from "node:url";
import * as path from "node:path";
import * as fs from "node:fs";
import * as os from "node:os";

/** Repository root, from the compiled location dist/test/data/helpers.js. */
export const REPO_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
);

export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}

/** Full CIFAR-10 used by some tests when present (never required). */
export const SHARED_CIFAR10 = path.resolve(
  REPO_ROOT,
  "..",
  "shared",
  "data",
  "cifar-10-batches-bin",
);

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `divco-${prefix}-`));
}

export function maxAbsDiff(a: Uint8Array, b: Uint8Array): { max: number; count: number } {
  let max = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) count++;
    if (d > max) max = d;
  }
  return { max, count };
}
