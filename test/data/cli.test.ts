// `divco data`: help, usage errors, and check/get against missing or damaged local files.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir, SHARED_CIFAR10 } from "./helpers.js";
import { runData } from "../../src/cli/data.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runData(argv, {
    log: (s) => (out += s + "\n"),
    err: (s) => (err += s + "\n"),
  });
  return { code, out, err };
}

test("divco data --help and usage errors (unknown flag named, unknown dataset, unknown subcommand)", async () => {
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(help.out, /divco data get <cifar10\|cifar100>/);
  const flag = await run("check", "cifar10", "--bogus");
  assert.equal(flag.code, 2);
  assert.match(flag.err, /--bogus/);
  assert.equal((await run("get", "mnist")).code, 2);
  assert.match((await run("frobnicate")).err, /unknown subcommand "frobnicate"/);
  assert.equal((await run("check", "cifar10", "--archive", "x")).code, 2);
});

test("divco data check: missing data exits 1 naming where it looked; truncated file reported with sizes", async () => {
  const dir = tempDir("clicheck");
  const miss = await run("check", "cifar10", "--dir", dir);
  assert.equal(miss.code, 1);
  assert.ok(miss.err.includes(dir) && miss.err.includes("divco data get cifar10"));
  fs.writeFileSync(path.join(dir, "test_batch.bin"), Buffer.alloc(3073));
  const bad = await run("check", "cifar10", "--dir", dir);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /BAD  test_batch\.bin: expected 30730000 bytes, found 3073/);
  assert.match(bad.out, /BAD  data_batch_1\.bin: missing/);
  const imagenet = await run("check", "imagenet", "--dir", dir);
  assert.equal(imagenet.code, 1);
});

test(
  "divco data check on the full CIFAR-10 and info work offline",
  { skip: !fs.existsSync(SHARED_CIFAR10) },
  async () => {
    const ok = await run("check", "cifar10", "--dir", SHARED_CIFAR10);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /ok   data_batch_1\.bin: 30730000 bytes \(10000 images, 10 classes\)/);
    const info = await run("info", "--dir", path.dirname(SHARED_CIFAR10));
    assert.equal(info.code, 0);
    assert.match(info.out, /cifar10 +present/);
    assert.match(info.out, /cifar10-sample \(embedded\) 2000 train \+ 1000 test/);
  },
);

test("divco data get offline fails with the URL and the directory (exit 1)", async () => {
  const dir = tempDir("cliget");
  const r = await run(
    "get",
    "cifar10",
    "--dir",
    dir,
    "--archive",
    path.join(dir, "missing.tar.gz"),
  );
  assert.equal(r.code, 1);
  assert.match(r.err, /missing\.tar\.gz not found/);
});
