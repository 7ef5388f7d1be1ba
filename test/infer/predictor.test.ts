// Loading the ensemble predictor and predicting image files: an official PyTorch checkpoint
// reproduces PyTorch's logits in every CPU mode; a run directory and a run's checkpoint file
// load the run's weights (and a checkpoint whose tensors do not match its JSON is refused);
// image files go through the dataset's evaluation transform exactly as evaluation applies it
// (CIFAR: as they are; ImageNet: resize + centre crop while decoding, compared with the
// loader's own batch filler), and files that cannot be used get their own error while the
// others are still predicted.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { create } from "../../src/models/index.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { recordToTensor } from "../../src/io/tensors.js";
import { saveCheckpoint } from "../../src/io/run_checkpoint.js";
import { SGD } from "../../src/optim/index.js";
import { scope, type Tensor } from "../../src/tensor/index.js";
import { Ensemble } from "../../src/infer/predictor.js";
import { loadEvalImages } from "../../src/infer/images.js";
import { ImageFolderDataset } from "../../src/data/imagefolder.js";
import { BatchFiller } from "../../src/data/batch_fill.js";
import { Augmenter, presetAugmentation } from "../../src/data/transforms/pipeline.js";
import { NORMALIZATION } from "../../src/data/stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const FIXTURES = path.join(ROOT, "test", "fixtures", "models");

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), `divco-infer-${prefix}-`));

const maxDiff = (a: Tensor[], b: Tensor[]) =>
  scope(() => Math.max(...a.map((z, i) => z.sub(b[i]).abs().max().item())));

/** torch.allclose's form, as test/models/checkpoint.test.ts compares with PyTorch. */
const allclose = (a: Tensor[], b: Tensor[]) =>
  scope(() => a.every((z, i) => z.sub(b[i]).abs().le(b[i].abs().mul(1e-4).add(1e-5)).all().item()));

test("an official checkpoint (.pth) reproduces PyTorch's logits in every CPU mode", async () => {
  const ref = readSafetensors(path.join(FIXTURES, "resnet29_s2_w4.safetensors")).tensors;
  const x = recordToTensor(ref.get("x")!);
  const want = [0, 1].map((i) => recordToTensor(ref.get(`logits.${i}`)!));
  for (const mode of ["sequential", "concurrent", "fused"] as const) {
    const e = await Ensemble.load(
      {
        weights: path.join(FIXTURES, "resnet29_s2_w4.pth"),
        arch: "resnet29",
        split: 2,
        dataset: "cifar10",
        extra: { width: 4 },
      },
      { mode, lanes: 2 },
    );
    try {
      const got = await e.memberLogits(x);
      assert.ok(allclose(got, want), `${mode}: ${maxDiff(want, got)}`);
      for (const z of got) z.dispose();
    } finally {
      await e.close();
    }
  }
});

/** A run directory as divco train leaves it: config.json and checkpoints/{best,last}. */
function fakeRun(): { dir: string; logits: (x: Tensor) => Tensor[]; dispose: () => void } {
  const dir = tmp("run");
  const members = create("resnet29", { split: 2, dataset: "cifar10", extra: {} });
  fs.writeFileSync(
    path.join(dir, "config.json"),
    JSON.stringify({ arch: "resnet29", split: 2, dataset: "cifar10", ensemble: "mean_probs" }),
  );
  const ckpts = path.join(dir, "checkpoints");
  fs.mkdirSync(ckpts);
  const opt = new SGD(members.parameters(), { lr: 0.1 });
  const meta = {
    arch: "resnet29",
    split: 2,
    epoch: 1,
    batchIndex: 0,
    step: 1,
    bestAcc1: 0,
    bestEpoch: 0,
    metrics: {},
  };
  saveCheckpoint(ckpts, "best", members, opt, meta);
  saveCheckpoint(ckpts, "last", members, opt, meta);
  members.eval();
  return {
    dir,
    logits: (x) => scope(() => members.forwardEach(x)),
    dispose: () => members.dispose(),
  };
}

test("a run directory, and a run's checkpoint file as weights, load the run's model", async () => {
  const run = fakeRun();
  const input = readSafetensors(path.join(FIXTURES, "resnet29_s2_w4.safetensors"));
  const x = recordToTensor(input.tensors.get("x")!);
  try {
    const want = run.logits(x);
    const fromRun = await Ensemble.load(run.dir, { mode: "fused" });
    assert.equal(fromRun.rule, "mean_probs"); // the run's own ensemble rule
    assert.deepEqual([fromRun.arch, fromRun.split, fromRun.dataset], ["resnet29", 2, "cifar10"]);
    const fromFile = await Ensemble.load({
      weights: path.join(run.dir, "checkpoints", "last.safetensors"),
      arch: "resnet29",
      split: 2,
      dataset: "cifar10",
    });
    try {
      for (const e of [fromRun, fromFile]) {
        const got = await e.memberLogits(x);
        assert.ok(maxDiff(want, got) < 1e-5);
        for (const z of got) z.dispose();
      }
    } finally {
      await fromRun.close();
      await fromFile.close();
    }
    await assert.rejects(
      Ensemble.load({ run: run.dir, checkpoint: "epoch-0007" }),
      /has no checkpoint "epoch-0007" \(it has best, last\)/,
    );
    // A weights file where the run's checkpoint should be: named, with what it is.
    fs.copyFileSync(
      path.join(FIXTURES, "resnet29_s2_w4.safetensors"),
      path.join(run.dir, "checkpoints", "best.safetensors"),
    );
    await assert.rejects(Ensemble.load(run.dir), /best\.safetensors is not a divco checkpoint/);
    await assert.rejects(Ensemble.load(path.join(run.dir, "nope")), /not a divco run directory/);
  } finally {
    run.dispose();
    fs.rmSync(run.dir, { recursive: true, force: true });
  }
});

/** A w×h RGB image whose pixel (x, y) is (x·7, y·5, (x+y)·3) mod 256. */
function pattern(w: number, h: number): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = 3 * (y * w + x);
      b[o] = (x * 7) % 256;
      b[o + 1] = (y * 5) % 256;
      b[o + 2] = ((x + y) * 3) % 256;
    }
  return b;
}

test("CIFAR images are used as they are: normalised pixels, CHW", async () => {
  const dir = tmp("cifar");
  try {
    const file = path.join(dir, "a.png");
    const raw = pattern(32, 32);
    await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toFile(file);
    const b = await loadEvalImages([file], "cifar10", 32);
    assert.deepEqual(b.shape, [1, 3, 32, 32]);
    const { mean, std } = NORMALIZATION.cifar10;
    let worst = 0;
    for (let c = 0; c < 3; c++)
      for (let p = 0; p < 32 * 32; p++) {
        const want = (raw[3 * p + c] / 255 - mean[c]) / std[c];
        worst = Math.max(worst, Math.abs(b.data[c * 1024 + p] - want));
      }
    assert.ok(worst < 1e-5, `max deviation ${worst}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("ImageNet images get evaluation's resize + centre crop, byte for byte as the loader's", async () => {
  const root = tmp("imagenet");
  try {
    const cls = path.join(root, "val", "n0");
    fs.mkdirSync(cls, { recursive: true });
    const files = [path.join(cls, "wide.jpg"), path.join(cls, "tall.png")];
    await sharp(pattern(120, 80), { raw: { width: 120, height: 80, channels: 3 } })
      .jpeg()
      .toFile(files[0]);
    await sharp(pattern(70, 96), { raw: { width: 70, height: 96, channels: 3 } })
      .png()
      .toFile(files[1]);
    const crop = 64;
    const got = await loadEvalImages(files, "imagenet", crop);
    assert.deepEqual(got.shape, [2, 3, crop, crop]);
    const ds = ImageFolderDataset.open(root, "val");
    const augmenter = new Augmenter(
      presetAugmentation("imagenet", { train: false, cropSize: crop }),
    );
    const filler = new BatchFiller(ds, augmenter, { seed: 0, views: 1 });
    const view = new Float32Array(2 * 3 * crop * crop);
    await filler.fill(0, 0, Int32Array.of(0, 1), { views: [view], labels: new Int32Array(2) });
    // The folder lists tall.png before wide.jpg.
    assert.deepEqual(
      ds.files.map((f) => path.basename(f)),
      ["tall.png", "wide.jpg"],
    );
    const n = 3 * crop * crop;
    assert.deepEqual(got.data.subarray(0, n), view.subarray(n, 2 * n));
    assert.deepEqual(got.data.subarray(n, 2 * n), view.subarray(0, n));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("predictFiles: JPEG and PNG predicted, each bad file its own error, the rest still predicted", async () => {
  const dir = tmp("files");
  const run = fakeRun();
  try {
    const raw = pattern(32, 32);
    const img = () => sharp(raw, { raw: { width: 32, height: 32, channels: 3 } });
    await img().png().toFile(path.join(dir, "a.png"));
    await img().jpeg().toFile(path.join(dir, "b.jpg"));
    await img().resize(48, 48).png().toFile(path.join(dir, "big.png"));
    const jpeg = fs.readFileSync(path.join(dir, "b.jpg"));
    fs.writeFileSync(path.join(dir, "cut.jpg"), jpeg.subarray(0, jpeg.length >> 1));
    fs.writeFileSync(path.join(dir, "notes.png"), "not an image");
    const e = await Ensemble.load(run.dir, { mode: "concurrent", lanes: 2 });
    try {
      const { predictions, errors } = await e.predictFiles([dir, path.join(dir, "missing.jpg")], {
        topk: 3,
        batchSize: 2,
      });
      assert.deepEqual(
        predictions.map((p) => path.basename(p.file)),
        ["a.png", "b.jpg"],
      );
      for (const p of predictions) {
        assert.equal(p.top.length, 3);
        assert.ok(p.top.every((t) => typeof t.name === "string" && t.probability > 0));
      }
      const why = Object.fromEntries(errors.map((x) => [path.basename(x.file), x.message]));
      assert.deepEqual(Object.keys(why).sort(), ["big.png", "cut.jpg", "missing.jpg", "notes.png"]);
      assert.match(why["big.png"], /48×48 image; cifar10 models evaluate 32×32 images as they are/);
      assert.match(why["cut.jpg"], /cannot decode image/);
      assert.match(why["notes.png"], /cannot decode image/);
      assert.match(why["missing.jpg"], /no such file or directory/);
    } finally {
      await e.close();
    }
  } finally {
    run.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(run.dir, { recursive: true, force: true });
  }
});
