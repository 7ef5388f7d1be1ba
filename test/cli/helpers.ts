// Shared by the CLI tests: a captured Out (each line kept as printed), temporary directories and
// the paths of the committed model fixtures.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Out } from "../../src/cli/args.js";

/** Repository root, from the compiled location dist/test/cli/helpers.js. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const MODEL_FIXTURES = path.join(ROOT, "test", "fixtures", "models");
/** The CLI entry point as installed (`bin` of package.json). */
export const MAIN_JS = path.join(ROOT, "dist", "src", "cli", "main.js");

export interface Captured {
  out: Out;
  stdout: string[];
  stderr: string[];
}

export function capture(): Captured {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { out: { log: (s) => stdout.push(s), err: (s) => stderr.push(s) }, stdout, stderr };
}

/** Runs a command function with a captured Out. */
export async function runCaptured(
  run: (argv: string[], out: Out) => Promise<number>,
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = capture();
  const code = await run(argv, c.out);
  return { code, stdout: c.stdout.join("\n"), stderr: c.stderr.join("\n") };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `divco-cli-${prefix}-`));
}
