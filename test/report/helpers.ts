// Helpers for the report tests: fixture paths, JSON reading, temporary directories.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** test/fixtures/report, found from the compiled file's location (dist/test/report/). */
export const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../test/fixtures/report",
);

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** A fresh temp directory, removed when the process exits. */
export function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "divco-report-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
