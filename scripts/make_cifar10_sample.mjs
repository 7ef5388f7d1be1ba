#!/usr/bin/env node
// Regenerates data/cifar10-sample/ from a CIFAR-10 binary directory.
//
//   node scripts/make_cifar10_sample.mjs [CIFAR10_DIR] [OUT_DIR]
//
// Train: the first 40 images of each class in each of data_batch_1..5
// (200 per class, 2000 in total, original order), written as train_1.bin and
// train_2.bin (1000 records each, so every committed file stays < 5 MB).
// Test: records 0-999 of test_batch.bin, unchanged (the first 1000 original
// test images). Record format is the standard one: 1 label byte + 3072 pixel
// bytes (R plane, G plane, B plane, row-major 32x32).
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";

const src = process.argv[2] ?? path.join(process.env.HOME ?? ".", ".cache", "divco", "data", "cifar-10-batches-bin");
const out = process.argv[3] ?? path.join(path.dirname(new URL(import.meta.url).pathname), "..", "data", "cifar10-sample");
const REC = 3073;
const PER_CLASS_PER_BATCH = 40;

const picked = [];
const provenance = [];
for (let b = 1; b <= 5; b++) {
  const file = path.join(src, `data_batch_${b}.bin`);
  const buf = fs.readFileSync(file);
  if (buf.length !== 10000 * REC) throw new Error(`${file}: expected ${10000 * REC} bytes, found ${buf.length}`);
  const taken = new Array(10).fill(0);
  for (let r = 0; r < 10000; r++) {
    const label = buf[r * REC];
    if (taken[label] < PER_CLASS_PER_BATCH) {
      taken[label]++;
      picked.push(buf.subarray(r * REC, (r + 1) * REC));
      provenance.push([b, r]);
    }
  }
}
if (picked.length !== 2000) throw new Error(`expected 2000 training records, picked ${picked.length}`);
const test = fs.readFileSync(path.join(src, "test_batch.bin")).subarray(0, 1000 * REC);

fs.mkdirSync(out, { recursive: true });
const files = {
  "train_1.bin": Buffer.concat(picked.slice(0, 1000)),
  "train_2.bin": Buffer.concat(picked.slice(1000)),
  "test.bin": Buffer.from(test),
};
const manifest = {
  description: "CIFAR-10 sample: 2000 balanced training images + the first 1000 test images",
  recordBytes: REC,
  train: ["train_1.bin", "train_2.bin"],
  test: ["test.bin"],
  records: {},
  sha256: {},
  trainSource: "data_batch_<b>.bin record <r>, listed in train_provenance",
  trainProvenance: provenance,
  testSource: "test_batch.bin records 0-999",
};
for (const [name, data] of Object.entries(files)) {
  fs.writeFileSync(path.join(out, name), data);
  manifest.records[name] = data.length / REC;
  manifest.sha256[name] = crypto.createHash("sha256").update(data).digest("hex");
}
fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest) + "\n");
console.log(`wrote ${out}: ${Object.keys(files).join(", ")}, manifest.json`);
