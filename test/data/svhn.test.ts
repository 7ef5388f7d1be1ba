// SVHN .mat reader: labels, layout, and errors for missing or corrupt files.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoPath, tempDir } from "./helpers.js";
import { readSvhnMat, loadSvhn } from "../../src/data/svhn.js";
import { readMat5 } from "../../src/data/mat5.js";
import { DataError } from "../../src/data/errors.js";

const expectedPixel = (hh: number, ww: number, c: number, n: number) =>
  (7 * hh + 3 * ww + 50 * c + 11 * n) % 256;

for (const variant of ["compressed", "plain"]) {
  test(`SVHN MAT v5 (${variant}): X column-major → CHW, y double with 10 → 0`, () => {
    const ds = readSvhnMat(repoPath("test", "fixtures", "data", `svhn_tiny_${variant}.mat`));
    assert.equal(ds.size, 5);
    assert.deepEqual([...ds.labels], [1, 5, 0, 3, 0]);
    for (const [hh, ww, c, n] of [
      [0, 0, 0, 0],
      [5, 17, 2, 3],
      [31, 30, 1, 4],
    ]) {
      assert.equal(ds.record(n)[c * 1024 + hh * 32 + ww], expectedPixel(hh, ww, c, n));
    }
    const img = ds.getImage(2);
    assert.equal(img.data[(4 * 32 + 9) * 3 + 1], expectedPixel(4, 9, 1, 2));
  });
}

test("SVHN: missing split says where it looked; truncated or non-MAT files are corrupt errors", () => {
  const dir = tempDir("svhn");
  assert.throws(
    () => loadSvhn({ split: "test", dir }),
    (e: unknown) =>
      e instanceof DataError &&
      e.code === "missing" &&
      e.message.includes("test_32x32.mat") &&
      e.message.includes(dir),
  );
  assert.throws(() => loadSvhn({ split: "valid" as never, dir }), /no split "valid"/);
  const good = fs.readFileSync(repoPath("test", "fixtures", "data", "svhn_tiny_plain.mat"));
  const cut = path.join(dir, "cut.mat");
  fs.writeFileSync(cut, good.subarray(0, good.length - 100));
  assert.throws(
    () => readSvhnMat(cut),
    (e: unknown) =>
      e instanceof DataError &&
      e.code === "corrupt" &&
      e.message.includes(cut) &&
      /truncated/.test(e.message),
  );
  assert.throws(() => readMat5(Buffer.alloc(200), "zeros.mat"), /zeros\.mat: not a MAT v5 file/);
  assert.throws(
    () => readMat5(Buffer.alloc(10), "tiny.mat"),
    /tiny\.mat: expected at least a 128-byte MAT header, found 10 bytes/,
  );
  fs.copyFileSync(
    repoPath("test", "fixtures", "data", "svhn_tiny_compressed.mat"),
    path.join(dir, "train_32x32.mat"),
  );
  assert.equal(loadSvhn({ split: "train", dir }).size, 5);
});
