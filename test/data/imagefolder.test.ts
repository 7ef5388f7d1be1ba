// ImageNet-style image folders: class discovery, decoding to RGB, crop geometry, loader workers.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { tempDir } from "./helpers.js";
import { ImageFolderDataset } from "../../src/data/imagefolder.js";
import { MultiViewLoader, copyBatch, type Batch } from "../../src/data/loader.js";
import { presetAugmentation } from "../../src/data/transforms/pipeline.js";
import { Rng } from "../../src/data/prng.js";
import { DataError } from "../../src/data/errors.js";

/** root/{train,val}/{cat,dog}/ with JPEG, RGBA PNG and grayscale PNG files of different sizes. */
async function makeFolder(): Promise<string> {
  const root = tempDir("folder");
  let k = 0;
  for (const split of ["train", "val"]) {
    for (const cls of ["dog", "cat"]) {
      const dir = path.join(root, split, cls);
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 3; i++, k++) {
        const w = 40 + 7 * i;
        const h = 30 + 11 * i;
        const px = Buffer.alloc(w * h * 4);
        for (let p = 0; p < w * h; p++)
          px.set([(p * 3 + k * 40) % 256, (p * 7) % 256, (k * 60) % 256, 200], p * 4);
        const img = sharp(px, { raw: { width: w, height: h, channels: 4 } });
        if (i === 0)
          await img
            .removeAlpha()
            .jpeg({ quality: 90 })
            .toFile(path.join(dir, `img${i}.JPEG`));
        else if (i === 1) await img.png().toFile(path.join(dir, `img${i}.png`));
        else
          await img
            .removeAlpha()
            .toColourspace("b-w")
            .png()
            .toFile(path.join(dir, `img${i}.png`));
      }
      fs.writeFileSync(path.join(dir, "notes.txt"), "not an image");
    }
  }
  return root;
}

test("image folder: sorted classes, all image types decode to RGB; train/eval geometry gives the crop size", async () => {
  const root = await makeFolder();
  const ds = ImageFolderDataset.open(root, "train");
  assert.deepEqual(ds.classNames, ["cat", "dog"]);
  assert.equal(ds.size, 6);
  assert.deepEqual([...ds.labels], [0, 0, 0, 1, 1, 1]);
  for (let i = 0; i < ds.size; i++) {
    const img = await ds.getImage(i);
    assert.equal(img.data.length, img.width * img.height * 3);
  }
  const a = await ds.loadCropped(
    1,
    { kind: "randomResized", size: 24, scale: [0.1, 1], ratio: [3 / 4, 4 / 3] },
    Rng.fromKeys(1),
  );
  const b = await ds.loadCropped(
    1,
    { kind: "randomResized", size: 24, scale: [0.1, 1], ratio: [3 / 4, 4 / 3] },
    Rng.fromKeys(1),
  );
  assert.deepEqual([a.width, a.height], [24, 24]);
  assert.deepEqual(a.data, b.data);
  const e = await ds.loadCropped(
    4,
    { kind: "resizeCenter", size: 24, resize: Math.trunc(1.15 * 24) },
    Rng.fromKeys(0),
  );
  assert.deepEqual([e.width, e.height], [24, 24]);
  assert.throws(
    () => ImageFolderDataset.open(root, "test"),
    (err: unknown) =>
      err instanceof DataError && /no split "test" \(found: train, val\)/.test(err.message),
  );
  assert.throws(
    () => ImageFolderDataset.open(path.join(root, "nope"), "train"),
    (err: unknown) => err instanceof DataError && err.code === "missing",
  );
});

test("image folder through the loader: 0 and 2 workers agree; a corrupt image fails with its path", async () => {
  const root = await makeFolder();
  const ds = ImageFolderDataset.open(root, "train");
  const augment = presetAugmentation("imagenet", { train: true, cropSize: 24 });
  const run = async (workers: number) => {
    const l = new MultiViewLoader({
      dataset: ds,
      augment,
      batchSize: 3,
      views: 2,
      seed: 5,
      workers,
      mixupAlpha: 0.2,
    });
    const out: Batch[] = [];
    try {
      for await (const b of l.epoch(0)) out.push(copyBatch(b));
    } finally {
      await l.close();
    }
    return out;
  };
  const a = await run(0);
  const b = await run(2);
  assert.equal(a.length, 2);
  assert.deepEqual(a[0].shape, [3, 3, 24, 24]);
  a.forEach((x, i) => {
    assert.deepEqual(x.labels, b[i].labels);
    x.views.forEach((v, s) => assert.deepEqual(v, b[i].views[s]));
  });
  const bad = path.join(root, "train", "dog", "img0.JPEG");
  fs.writeFileSync(bad, Buffer.from("this is not a jpeg"));
  const broken = ImageFolderDataset.open(root, "train");
  await assert.rejects(
    broken.getImage(3),
    (err: unknown) =>
      err instanceof DataError && err.code === "corrupt" && err.message.includes(bad),
  );
  const l = new MultiViewLoader({ dataset: broken, augment, batchSize: 6, seed: 1, workers: 1 });
  try {
    await assert.rejects(
      (async () => {
        for await (const x of l.epoch(0)) void x;
      })(),
      (err: unknown) => err instanceof DataError && err.message.includes(bad),
    );
  } finally {
    await l.close();
  }
});
