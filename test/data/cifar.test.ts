// CIFAR-10/100 binary readers: the embedded sample, the shared full dataset where present, and
// the errors for missing, truncated and mislabelled files.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir, SHARED_CIFAR10 } from "./helpers.js";
import {
  loadCifar10,
  loadCifar100,
  CIFAR10,
  CIFAR100,
  checkCifar,
  readCifarFiles,
} from "../../src/data/cifar.js";
import { loadCifar10Sample } from "../../src/data/sample.js";
import { DataError } from "../../src/data/errors.js";

function writeRecords(
  file: string,
  n: number,
  labelBytes: 1 | 2,
  label: (i: number) => number[],
): void {
  const rec = labelBytes + 3072;
  const buf = Buffer.alloc(n * rec);
  for (let i = 0; i < n; i++) {
    buf.set(label(i), i * rec);
    buf.fill(i % 256, i * rec + labelBytes, (i + 1) * rec);
  }
  fs.writeFileSync(file, buf);
}

test("embedded CIFAR-10 sample: 2000 balanced train images, 1000 test images, found without cwd", () => {
  const cwd = process.cwd();
  process.chdir("/");
  try {
    const train = loadCifar10Sample("train");
    const test = loadCifar10Sample("test");
    assert.equal(train.size, 2000);
    assert.equal(test.size, 1000);
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(200));
    assert.equal(train.classNames[3], "cat");
    assert.ok(train.pixels.buffer instanceof SharedArrayBuffer);
    // Test record 0 of CIFAR-10 is a cat (label 3).
    assert.equal(test.labels[0], 3);
  } finally {
    process.chdir(cwd);
  }
});

test(
  "CIFAR-10 reader matches the shared full dataset where present",
  { skip: !fs.existsSync(SHARED_CIFAR10) },
  () => {
    const ds = loadCifar10({ split: "test", dir: SHARED_CIFAR10 });
    assert.equal(ds.size, 10000);
    const raw = fs.readFileSync(path.join(SHARED_CIFAR10, "test_batch.bin")).subarray(0, 3073);
    assert.equal(ds.labels[0], raw[0]);
    assert.deepEqual(Buffer.from(ds.record(0)), raw.subarray(1));
    const sample = loadCifar10Sample("test");
    assert.deepEqual(Buffer.from(sample.pixels), Buffer.from(ds.pixels.subarray(0, 1000 * 3072)));
  },
);

test("missing CIFAR says where it looked and how to download it", () => {
  const dir = tempDir("nocifar");
  assert.throws(
    () => loadCifar10({ split: "train", dir }),
    (e: unknown) =>
      e instanceof DataError &&
      e.code === "missing" &&
      e.message.includes(dir) &&
      e.message.includes("divco data get cifar10") &&
      e.message.includes(CIFAR10.url),
  );
  assert.throws(() => loadCifar10({ split: "val" as never, dir }), /no split "val"/);
});

test("truncated CIFAR file: error names file, expected and actual size", () => {
  const dir = tempDir("trunc");
  writeRecords(path.join(dir, "test_batch.bin"), 10, 1, () => [1]);
  assert.throws(
    () => loadCifar10({ split: "test", dir }),
    (e: unknown) =>
      e instanceof DataError &&
      e.code === "truncated" &&
      e.message.includes("test_batch.bin") &&
      e.message.includes("30730000") &&
      e.message.includes("30730 "),
  );
  const check = checkCifar(CIFAR10, dir);
  const t = check.files.find((f) => f.file.endsWith("test_batch.bin"));
  assert.equal(t?.ok, false);
  assert.equal(t?.bytes, 30730);
});

test("CIFAR-100: fine and coarse labels from the two label bytes; bad labels name file and record", () => {
  const dir = tempDir("c100");
  const sub = path.join(dir, CIFAR100.folder);
  fs.mkdirSync(sub);
  writeRecords(path.join(sub, "test.bin"), 10000, 2, (i) => [i % 20, i % 100]);
  const fine = loadCifar100({ split: "test", dir });
  const coarse = loadCifar100({ split: "test", dir, labels: "coarse" });
  assert.equal(fine.numClasses, 100);
  assert.equal(fine.labels[57], 57);
  assert.equal(coarse.numClasses, 20);
  assert.equal(coarse.labels[57], 17);
  assert.equal(fine.record(3)[100], 3);
  const bad = path.join(dir, "bad.bin");
  writeRecords(bad, 3, 2, (i) => [0, i === 2 ? 140 : 5]);
  assert.throws(
    () =>
      readCifarFiles([{ path: bad }], { name: "x", labelBytes: 2, labelIndex: 1, numClasses: 100 }),
    (e: unknown) =>
      e instanceof DataError &&
      e.code === "corrupt" &&
      /bad\.bin: record 2 has label 140, expected 0\.\.99/.test(e.message),
  );
});
