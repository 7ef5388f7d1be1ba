// Image files that cannot be decoded (issue #10 item 5): real ImageNet folders hold a few
// (a text file named .jpg, an empty .png, a cut-off download). checkImages decodes every file
// and classifies what is wrong; `divco data check imagenet` reports them by kind; the loader
// fails on one, naming it, or with onBadImage "skip" leaves it out of its batch and lists it.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { tempDir } from "./helpers.js";
import { BadImageError, decodeRgb } from "../../src/data/decode.js";
import { badImageSummary, checkImages } from "../../src/data/image_check.js";
import { ImageFolderDataset } from "../../src/data/imagefolder.js";
import { MultiViewLoader, copyBatch, type Batch } from "../../src/data/loader.js";
import { presetAugmentation } from "../../src/data/transforms/pipeline.js";
import { runData } from "../../src/cli/data.js";
import { runCaptured } from "../cli/helpers.js";

async function goodJpeg(seed: number, w = 40, h = 30): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let p = 0; p < px.length; p++) px[p] = (p * 7 + seed * 31) % 256;
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** One file of every kind of problem, and a PNG named .jpg (Pillow opens it by content: fine). */
async function badFiles(dir: string): Promise<Record<string, string>> {
  const jpeg = await goodJpeg(1);
  const png = await sharp(jpeg).png().toBuffer();
  const files: Record<string, Buffer | null> = {
    "text.jpg": Buffer.from("<html>not found</html>"),
    "empty.png": Buffer.alloc(0),
    "cut.jpg": jpeg.subarray(0, Math.floor(jpeg.length / 2)),
    "png_named.jpg": png,
    "good.jpg": jpeg,
  };
  const out: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(files)) {
    out[name] = path.join(dir, name);
    fs.writeFileSync(out[name], bytes as Buffer);
  }
  out["dir.jpg"] = path.join(dir, "dir.jpg");
  fs.mkdirSync(out["dir.jpg"]); // unreadable as a file
  return out;
}

test("decodeRgb: a bad file throws BadImageError saying what kind of problem it is", async () => {
  const f = await badFiles(tempDir("kinds"));
  const kinds: Record<string, string> = {
    "text.jpg": "not an image",
    "empty.png": "empty file",
    "cut.jpg": "truncated",
    "dir.jpg": "unreadable",
  };
  for (const [name, kind] of Object.entries(kinds)) {
    await assert.rejects(decodeRgb(f[name]), (e: unknown) => {
      assert.ok(e instanceof BadImageError, `${name}: ${String(e)}`);
      assert.equal(e.kind, kind, `${name}: ${e.message}`);
      assert.equal(e.file, f[name]);
      assert.equal(e.code, "corrupt");
      assert.ok(e.message.startsWith(`${f[name]}: cannot decode image: ${kind}`), e.message);
      return true;
    });
  }
  assert.equal((await decodeRgb(f["png_named.jpg"])).width, 40);
});

test("checkImages decodes every file, lists the bad ones in order with progress, never throws", async () => {
  const f = await badFiles(tempDir("check"));
  const files = ["good.jpg", "text.jpg", "png_named.jpg", "empty.png", "cut.jpg", "dir.jpg"].map(
    (n) => f[n],
  );
  const seen: number[] = [];
  const r = await checkImages(files, { concurrency: 3, onProgress: (d) => seen.push(d) });
  assert.equal(r.checked, 6);
  assert.deepEqual(
    r.bad.map((b) => [path.basename(b.file), b.kind]),
    [
      ["text.jpg", "not an image"],
      ["empty.png", "empty file"],
      ["cut.jpg", "truncated"],
      ["dir.jpg", "unreadable"],
    ],
  );
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  assert.equal(badImageSummary(r.bad), "1 empty file, 1 not an image, 1 truncated, 1 unreadable");
});

/** root/{train,val}/{a,b}/ with good JPEGs; returns the root. */
async function folder(perClass: number): Promise<string> {
  const root = tempDir("badfolder");
  let k = 0;
  for (const split of ["train", "val"])
    for (const cls of ["a", "b"]) {
      fs.mkdirSync(path.join(root, split, cls), { recursive: true });
      for (let i = 0; i < perClass; i++, k++)
        fs.writeFileSync(
          path.join(root, split, cls, `img${i}.jpg`),
          await goodJpeg(k, 40 + i, 30 + i),
        );
    }
  return root;
}

test("divco data check imagenet decodes every image: ok when all decode, else the bad files by kind (exit 1)", async () => {
  const root = await folder(2);
  const good = await runCaptured(runData, ["check", "imagenet", "--dir", root]);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(
    good.stdout,
    "  ok   train: 4 images in 2 classes, every image decodes\n  ok   val: 4 images in 2 classes, every image decodes",
  );
  // Before (issue #10): a non-image .jpg and a zero-byte .png were "ok" (files were counted only).
  fs.writeFileSync(path.join(root, "val", "a", "img0.jpg"), "not a jpeg");
  fs.writeFileSync(path.join(root, "val", "b", "zero.png"), "");
  const bad = await runCaptured(runData, ["check", "imagenet", "--dir", root]);
  assert.equal(bad.code, 1);
  assert.equal(
    bad.stdout,
    [
      "  ok   train: 4 images in 2 classes, every image decodes",
      "  BAD  val: 5 images in 2 classes; 2 cannot be decoded:",
      "       empty file (1):",
      `         ${path.join(root, "val", "b", "zero.png")}: 0 bytes`,
      "       not an image (1):",
      `         ${path.join(root, "val", "a", "img0.jpg")}: Input buffer contains unsupported image format`,
      "Training refuses bad files in val/ before its first step; in train/ it stops at one unless run with --on-bad-image skip.",
    ].join("\n"),
  );
});

test("the loader fails at a bad training image naming it, or with onBadImage skip leaves it out (any number of workers)", async () => {
  const root = await folder(3);
  const bad = path.join(root, "train", "b", "img1.jpg");
  fs.writeFileSync(bad, "not a jpeg");
  const ds = ImageFolderDataset.open(root, "train");
  const augment = presetAugmentation("imagenet", { train: true, cropSize: 16 });
  const epoch = async (workers: number, onBadImage?: "skip" | "fail", mixupAlpha = 0.2) => {
    const l = new MultiViewLoader({
      dataset: ds,
      augment,
      batchSize: 3,
      views: 2,
      seed: 4,
      workers,
      mixupAlpha,
      onBadImage,
    });
    const out: Batch[] = [];
    try {
      for await (const b of l.epoch(0)) out.push(copyBatch(b));
    } finally {
      await l.close();
    }
    return out;
  };
  for (const workers of [0, 1]) {
    await assert.rejects(epoch(workers), (e: unknown) => {
      assert.ok(e instanceof BadImageError, String(e));
      assert.equal(e.file, bad);
      assert.equal(e.kind, "not an image");
      return true;
    });
  }
  const a = await epoch(0, "skip");
  const b = await epoch(2, "skip");
  assert.equal(a.length, 2);
  const withBad = a.findIndex((x) => x.skipped !== undefined);
  assert.ok(withBad >= 0);
  a.forEach((x, i) => {
    const n = i === withBad ? 2 : 3;
    assert.deepEqual(x.shape, [n, 3, 16, 16], "the batch is one image shorter");
    assert.equal(x.labels.length, n);
    assert.equal(x.views[0].length, n * 3 * 16 * 16);
    assert.equal(x.mixup?.perm.length, n, "mixup over the images that are there");
    assert.deepEqual(
      x.skipped?.map((s) => [s.file, s.kind]),
      i === withBad ? [[bad, "not an image"]] : undefined,
    );
    assert.deepEqual(x.labels, b[i].labels);
    assert.deepEqual(x.skipped, b[i].skipped);
    x.views.forEach((v, s) => assert.deepEqual(v, b[i].views[s], "workers give the same bytes"));
  });
  // Without mixup, the images kept are exactly what a batch of good files gives for them: each
  // view's randomness is keyed by its dataset index, not by its place in the batch.
  const skipped = await epoch(0, "skip", 0);
  fs.writeFileSync(bad, await goodJpeg(99));
  const full = await epoch(0, "fail", 0);
  const order = Array.from(
    new MultiViewLoader({ dataset: ds, augment, batchSize: 3, seed: 4 }).epochOrder(0),
  );
  const at = order.indexOf(ds.files.indexOf(bad)) % 3;
  const per = 3 * 16 * 16;
  skipped[withBad].views.forEach((v, s) => {
    const whole = full[withBad].views[s];
    const kept = [0, 1, 2].filter((k) => k !== at);
    kept.forEach((k, j) =>
      assert.deepEqual(v.subarray(j * per, (j + 1) * per), whole.subarray(k * per, (k + 1) * per)),
    );
  });
});
