// Training on an image folder with files that cannot be decoded (issue #10 item 5). Before: a
// bad training image ended the run mid-epoch, and one in val/ only after a whole training epoch
// (that epoch's checkpoint lost). Now the evaluation split is decoded before the first step and
// the run refuses to start, listing the bad files (never skipped: the accuracy must cover the
// whole split); a bad training image stops the run saying how to go on, or with
// onBadImage "skip" is left out, counted per epoch in the metrics and printed once per epoch.
// EfficientNet-B0 (S=4) at 224 px on 4 training images: the cheapest ImageNet network.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Writable } from "node:stream";
import sharp from "sharp";
import { train } from "../../src/cotrain/trainer.js";
import { DataError } from "../../src/data/errors.js";
import { readMetrics } from "../../src/report/metrics_log.js";
import { tempDir } from "../data/helpers.js";
import "../../src/models/index.js";

/** root/{train,val}/{a,b}/ with two small JPEGs each. */
async function folder(): Promise<string> {
  const root = tempDir("train-bad");
  let k = 0;
  for (const split of ["train", "val"])
    for (const cls of ["a", "b"]) {
      fs.mkdirSync(path.join(root, split, cls), { recursive: true });
      for (let i = 0; i < 2; i++, k++) {
        const px = Buffer.alloc(40 * 30 * 3);
        for (let p = 0; p < px.length; p++) px[p] = (p * 5 + k * 37) % 256;
        await sharp(px, { raw: { width: 40, height: 30, channels: 3 } })
          .jpeg()
          .toFile(path.join(root, split, cls, `img${i}.jpg`));
      }
    }
  return root;
}

const config = (root: string, runDir: string) => ({
  arch: "efficientnetb0",
  split: 4,
  dataset: "imagenet" as const,
  data: root,
  batchSize: 2,
  evalBatchSize: 4,
  epochs: 1,
  warmupEpochs: 0,
  workers: 0,
  threads: 1,
  seed: 1,
  runDir,
});

/** A stream that keeps what is written to it. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

test("a bad image in the evaluation split stops the run before its first step, whatever onBadImage says", async () => {
  const root = await folder();
  const bad = path.join(root, "val", "b", "img1.jpg");
  fs.writeFileSync(bad, "<html>404</html>");
  fs.writeFileSync(path.join(root, "val", "a", "empty.png"), "");
  for (const onBadImage of ["fail", "skip"] as const) {
    const runDir = path.join(root, `run-${onBadImage}`);
    let steps = 0;
    const progress = sink();
    await assert.rejects(
      train(
        { ...config(root, runDir), onBadImage },
        { progress: progress.stream, callbacks: { onStep: () => steps++ } },
      ),
      (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        const lines = e.message.split("\n");
        assert.equal(
          lines[0],
          `the evaluation split ${path.basename(root)}-val has 2 of 5 image files that cannot be decoded (1 empty file, 1 not an image):`,
        );
        assert.equal(
          lines[1],
          `  ${path.join(root, "val", "a", "empty.png")}: empty file (0 bytes)`,
        );
        assert.match(lines[2], new RegExp(`^  ${bad}: not an image \\(`));
        assert.match(lines[3], /--on-bad-image skip does not apply to it/);
        return true;
      },
    );
    assert.equal(steps, 0, "no training step ran");
    assert.ok(!fs.existsSync(runDir), "no run directory is left behind");
    assert.match(progress.text(), /checking .*-val images/, "the check shows its progress");
  }
});

test("a bad training image: fail says how to go on; a resumed run with onBadImage skip leaves it out and counts it", async () => {
  const root = await folder();
  const runDir = path.join(root, "run");
  const first = await train(config(root, runDir), { progress: "quiet" });
  assert.equal(first.status, "completed");
  assert.equal(readMetrics(runDir)[0].train_skipped_images, 0);

  const bad = path.join(root, "train", "a", "img1.jpg");
  fs.writeFileSync(bad, Buffer.alloc(0));
  const more = { ...config(root, runDir), epochs: 2 };
  await assert.rejects(
    train(more, { resume: true, progress: "quiet" }),
    (e: unknown) =>
      e instanceof DataError &&
      e.message.startsWith(
        `${bad}: cannot decode image: empty file (0 bytes). Training stopped in epoch 2`,
      ) &&
      e.message.endsWith(`continue with divco train --resume ${runDir} --on-bad-image skip`),
  );

  const progress = sink();
  const r = await train(
    { ...more, onBadImage: "skip" },
    { resume: true, progress: progress.stream },
  );
  assert.equal(r.status, "completed", "onBadImage may change on resume");
  const rows = readMetrics(runDir);
  assert.deepEqual(
    rows.map((m) => [m.epoch, m.train_skipped_images]),
    [
      [1, 0],
      [2, 1],
    ],
  );
  assert.ok(
    progress
      .text()
      .includes(
        `epoch 2: skipped 1 training image that cannot be decoded, e.g. ${bad} (empty file); divco data check lists them all\n`,
      ),
    progress.text(),
  );
  assert.equal(r.epochs[0].skippedImages, 1);
});
