// Ctrl-C during `divco train` saves a checkpoint at the end of the current step, releases the
// run directory's lock and exits 130; `--resume` then continues the run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function run(
  args: string[],
  interruptOn?: RegExp,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (interruptOn && !sent && interruptOn.test(stderr)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

test("Ctrl-C checkpoints and exits 130; --resume finishes the run", async () => {
  const runDir = join(mkdtempSync(join(tmpdir(), "divco-sigint-")), "run");
  const args = [
    "train",
    "--arch",
    "resnet29",
    "--split",
    "2",
    "--data",
    "sample",
    "--train-limit",
    "128",
    "--eval-limit",
    "50",
    "--batch-size",
    "16",
    "--eval-batch-size",
    "50",
    "--epochs",
    "2",
    "--warmup-epochs",
    "0",
    "--workers",
    "1",
    "--keep-last",
    "0",
    "--run-dir",
    runDir,
  ];
  const first = await run(args, /step 1\/8/);
  assert.equal(first.code, 130, first.stderr);
  assert.match(first.stderr, /stopping after this step/);
  const meta = JSON.parse(readFileSync(join(runDir, "checkpoints", "last.json"), "utf8"));
  assert.ok(
    meta.epoch === 0 ? meta.batchIndex >= 2 : meta.epoch >= 1,
    `checkpoint position ${meta.epoch}/${meta.batchIndex}`,
  );
  assert.ok(!existsSync(join(runDir, "divco.lock")), "Ctrl-C releases the run directory");
  const second = await run(["train", "--resume", runDir]);
  assert.equal(second.code, 0, second.stderr);
  assert.ok(!existsSync(join(runDir, "divco.lock")), "so does the end of the run");
  assert.doesNotMatch(second.stderr, /taking the run directory over/, "no stale lock was left");
  assert.equal(JSON.parse(readFileSync(join(runDir, "checkpoints", "last.json"), "utf8")).epoch, 2);
});
