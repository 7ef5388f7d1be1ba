// Helpers for the io tests: fixture paths, expected values, temporary directories, hex dumps.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** test/fixtures/io, found from the compiled file's location (dist/test/io/). */
export const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../test/fixtures/io",
);

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  hex: string;
}
export interface ExpectedFile {
  tensors: Record<string, ExpectedTensor>;
  metadata?: Record<string, string>;
  others?: Record<string, unknown>;
}

export function expected(name: string): ExpectedFile {
  const all = JSON.parse(fs.readFileSync(fixture("expected.json"), "utf8")) as Record<
    string,
    ExpectedFile
  >;
  const e = all[name];
  if (e === undefined) throw new Error(`no expectations for ${name}`);
  return e;
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "divco-io-"));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
