// Shared by the export tests: weights drawn so logits are O(1), temporary folders, and ONNX's
// own checker (Debian's python3-onnx, test-time only; scripts/setup.sh installs it).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Members } from "../../src/models/members.js";
import { Generator, noGrad } from "../../src/tensor/index.js";

/**
 * Draws every parameter and running statistic so that activations stay O(1) through the network.
 * Untrained networks with the reference's initialisation blow activations up with depth (or give
 * constant logits), and a float32 comparison of those says little about the graph.
 */
export function randomise(m: Members, seed: number): void {
  const g = new Generator(seed);
  noGrad(() => {
    for (const [k, t] of m.stateDict()) {
      if (t.dtype !== "f32") continue;
      if (k.endsWith("running_var")) t.uniform_(0.5, 1.5, g);
      else if (k.endsWith("running_mean")) t.normal_(0, 0.1, g);
      else if (t.ndim === 1 && k.endsWith(".weight")) t.uniform_(0.5, 1.0, g);
      else if (t.ndim === 1) t.normal_(0, 0.1, g);
      else {
        const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1);
        t.normal_(0, 1 / Math.sqrt(fanIn), g);
      }
    }
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `divco-export-${prefix}-`));
}

const PYTHON = "/usr/bin/python3";

/**
 * Why onnx.checker cannot run here (no Debian python3-onnx), or null when it can. With
 * DIVCO_REQUIRE_ONNX_CHECKER set (CI), a missing checker is an error instead of a skip.
 */
export function checkerMissing(): string | null {
  const r = spawnSync(PYTHON, ["-c", "import onnx"], { encoding: "utf8" });
  if (r.status === 0) return null;
  const why = `onnx.checker needs Debian's python3-onnx for ${PYTHON} (scripts/setup.sh installs it)`;
  if (process.env.DIVCO_REQUIRE_ONNX_CHECKER) throw new Error(why);
  return why;
}

/** Runs onnx.checker.check_model (with shape inference) on each file; throws with its message. */
export function onnxCheck(files: readonly string[]): void {
  const script = [
    "import sys, onnx",
    "for p in sys.argv[1:]:",
    "    onnx.checker.check_model(p, full_check=True)",
  ].join("\n");
  const r = spawnSync(PYTHON, ["-c", script, ...files], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`onnx.checker refused ${files.join(", ")}:\n${r.stderr}`);
}
