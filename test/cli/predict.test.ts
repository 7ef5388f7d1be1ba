// `divco predict` end to end: PNG and JPEG files (and a directory of them) classified by the
// committed ResNet-29 fixture (S=2, --extra width=4, CIFAR-10) with CIFAR-10's class names, as
// text and as JSON; a file that cannot be used is reported on its own line (exit 1) while the
// others are still predicted; usage errors exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { runPredict } from "../../src/cli/predict.js";
import { CIFAR10_CLASSES } from "../../src/data/cifar.js";
import { MODEL_FIXTURES, runCaptured, tempDir } from "./helpers.js";

const MODEL = [
  ...["--weights", path.join(MODEL_FIXTURES, "resnet29_s2_w4.pth")],
  ...["--arch", "resnet29", "--split", "2", "--dataset", "cifar10", "--extra", "width=4"],
];

async function images(dir: string): Promise<void> {
  const raw = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31) % 256;
  const img = () => sharp(raw, { raw: { width: 32, height: 32, channels: 3 } });
  fs.mkdirSync(path.join(dir, "more"));
  await img().png().toFile(path.join(dir, "a.png"));
  await img()
    .jpeg()
    .toFile(path.join(dir, "more", "b.jpeg"));
}

test("divco predict: top-k with class names per file, and --json", async () => {
  const dir = tempDir("predict");
  try {
    await images(dir);
    const r = await runCaptured(runPredict, [...MODEL, "--top", "2", dir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.deepEqual(
      [lines[0], lines[3]],
      [path.join(dir, "a.png"), path.join(dir, "more", "b.jpeg")],
    );
    for (const l of [lines[1], lines[2], lines[4], lines[5]])
      assert.match(l, new RegExp(`^  (${CIFAR10_CLASSES.join("|")}) +\\d+\\.\\d\\d%$`));
    const j = await runCaptured(runPredict, [...MODEL, "--json", "--mode", "fused", dir]);
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    assert.deepEqual(
      [doc.arch, doc.split, doc.dataset, doc.ensemble_rule, doc.mode],
      ["resnet29", 2, "cifar10", "mean_logits", "fused"],
    );
    assert.equal(doc.predictions.length, 2);
    assert.deepEqual(doc.errors, []);
    const top = doc.predictions[0].top;
    assert.equal(top.length, 5);
    assert.equal(top[0].name, CIFAR10_CLASSES[top[0].index]);
    assert.ok(top[0].probability >= top[1].probability);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco predict: a bad file gets its own error (exit 1), the others are still predicted", async () => {
  const dir = tempDir("predict-bad");
  try {
    await images(dir);
    fs.writeFileSync(path.join(dir, "junk.jpg"), "not a jpeg");
    const r = await runCaptured(runPredict, [...MODEL, dir, path.join(dir, "gone.png")]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.split("\n").filter((l) => !l.startsWith(" ")).length, 2);
    const errs = r.stderr.split("\n").sort();
    assert.equal(errs.length, 2);
    assert.match(errs[0], /^divco predict: .*gone\.png: no such file or directory$/);
    assert.match(errs[1], /^divco predict: .*junk\.jpg: cannot decode image/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco predict: usage errors exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [MODEL, /missing IMAGE/],
    [["x.png"], /give --run DIR, or --weights W with --arch and --split/],
    [
      ["--run", "r", "--arch", "resnet29", "x.png"],
      /--run takes the model from the run; drop --arch/,
    ],
    [[...MODEL, "--top", "0", "x.png"], /--top takes a positive integer/],
    [[...MODEL, "--mode", "gpu", "x.png"], /--mode must be one of/],
  ];
  for (const [argv, msg] of cases) {
    const r = await runCaptured(runPredict, argv);
    assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});
