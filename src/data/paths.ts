// Where datasets live. The product never assumes a checkout layout: a dataset
// comes from an explicit directory, or from the cache root
// `$DIVCO_DATA` (default `~/.cache/divco/data`).
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";

export function defaultDataRoot(): string {
  const env = process.env.DIVCO_DATA;
  if (env && env.trim() !== "") return path.resolve(env);
  return path.join(os.homedir(), ".cache", "divco", "data");
}

/**
 * Directories to try for a dataset whose archive extracts into `folder`:
 * with an explicit `dir`, the dir itself and dir/folder; otherwise
 * <data root>/folder.
 */
export function candidateDirs(folder: string, dir?: string): string[] {
  if (dir !== undefined) {
    const d = path.resolve(dir);
    return [d, path.join(d, folder)];
  }
  return [path.join(defaultDataRoot(), folder)];
}

/** The first candidate that contains every one of `files`, else null. */
export function findDirWith(
  candidates: readonly string[],
  files: readonly string[],
): string | null {
  for (const c of candidates) {
    if (files.every((f) => fs.existsSync(path.join(c, f)))) return c;
  }
  return null;
}
