// The `divco` executable: its exit status is the subcommand's (0 ok, 1 failed, 2 usage), and the
// top level answers --help, no command and an unknown command itself. Spawned, since the process
// exit status is the point.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { MAIN_JS, tempDir } from "./helpers.js";

function divco(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN_JS, ...args],
      { env: { ...process.env, DIVCO_NUM_THREADS: "1" } },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

test("divco exit codes: 0 ok, 1 failed, 2 usage; the top level's own answers", async () => {
  const help = await divco("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: divco <command> \[options\]/m);
  for (const cmd of [
    "data",
    "summary",
    "import",
    "infer",
    "predict",
    "serve",
    "bench",
    "train",
    "launch",
    "demo",
    "eval",
    "report",
    "info",
  ])
    assert.match(help.stdout, new RegExp(`^  ${cmd} +\\S`, "m"));

  const none = await divco();
  assert.equal(none.code, 2);
  assert.equal(none.stdout, help.stdout);

  const unknown = await divco("tran");
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    'divco: unknown command "tran" (data, summary, import, infer, predict, serve, bench, export, train, launch, demo, eval, report, info; see divco --help)\n',
  );

  const badArch = await divco("train", "--arch", "nope", "--run-dir", "unused");
  assert.equal(badArch.code, 2);
  assert.match(
    badArch.stderr,
    /^divco train: unknown architecture "nope"; did you mean .*\(see divco train --help\)\n$/,
  );

  const badFlag = await divco("info", "--verbose");
  assert.equal(badFlag.code, 2);
  assert.equal(badFlag.stderr, "divco info: unknown flag --verbose (see divco info --help)\n");

  const dir = tempDir("main");
  try {
    const junk = path.join(dir, "junk.pth");
    fs.writeFileSync(junk, "not a checkpoint");
    const failed = await divco("import", "--from", junk, "--to", path.join(dir, "w.safetensors"));
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^divco import: .*junk\.pth/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const info = await divco("info", "--json");
  assert.equal(info.code, 0, info.stderr);
  assert.deepEqual(Object.keys(JSON.parse(info.stdout)), [
    "libtorch",
    "threads",
    "cuda_devices",
    "built_with_cuda",
    "onednn",
    "node",
  ]);
});
