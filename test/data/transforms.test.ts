// The augmentations (REFERENCE.md §6): seeded streams, crop/flip, torchvision geometry helpers,
// AutoAugment/RandAugment ops, erasing and normalisation.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { repoPath } from "./helpers.js";
import { Rng } from "../../src/data/prng.js";
import { newImage, type RgbImage } from "../../src/data/image.js";
import {
  padRandomCrop,
  hflip,
  randomResizedCropBox,
  pyRound,
  centerCropBox,
  shorterSideSize,
} from "../../src/data/transforms/crop_flip.js";
import {
  autoAugment,
  autoAugmentOp,
  AUTOAUGMENT_POLICIES,
  AUTOAUGMENT_RANGES,
} from "../../src/data/transforms/autoaugment.js";
import {
  parseRandAugment,
  randAugment,
  RAND_INCREASING_TRANSFORMS,
} from "../../src/data/transforms/randaugment.js";
import { randomErasing } from "../../src/data/transforms/erasing.js";
import { normalizeTable } from "../../src/data/transforms/normalize.js";
import { sampleMixup, applyMixup, softTargets } from "../../src/data/transforms/targets.js";
import { presetAugmentation, Augmenter } from "../../src/data/transforms/pipeline.js";
import { NORMALIZATION, type DatasetKind } from "../../src/data/stats.js";
import { DataError } from "../../src/data/errors.js";

function gradientImage(w = 32, h = 32): RgbImage {
  const img = newImage(w, h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) img.data.set([x * 7, y * 7, (x + y) * 3], (y * w + x) * 3);
  return img;
}

test("prng: same keys give the same stream, different keys differ; below() is in range", () => {
  const a = Rng.fromKeys(1, 2, 3);
  const b = Rng.fromKeys(1, 2, 3);
  const c = Rng.fromKeys(1, 2, 4);
  const sa = Array.from({ length: 8 }, () => a.nextU32());
  assert.deepEqual(
    sa,
    Array.from({ length: 8 }, () => b.nextU32()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 8 }, () => c.nextU32()),
  );
  const r = Rng.fromKeys(9);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 7000; i++) counts[r.below(7)]++;
  for (const n of counts) assert.ok(n > 850 && n < 1150, `below(7) histogram ${counts}`);
  let mean = 0;
  for (let i = 0; i < 20000; i++) mean += r.beta(0.2, 0.2) / 20000;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `Beta(0.2,0.2) mean ${mean}`);
});

test("pad-and-random-crop: 32×32 window of the 40×40 zero-padded image; offsets cover 0..8", () => {
  const img = gradientImage();
  const seen = new Set<string>();
  const rng = Rng.fromKeys(5);
  for (let k = 0; k < 400; k++) {
    const out = padRandomCrop(img, rng, 32, 4);
    assert.equal(out.width, 32);
    // Locate the shift from pixel (16,16), which always comes from the image.
    const v = out.data.subarray((16 * 32 + 16) * 3, (16 * 32 + 16) * 3 + 3);
    const dx = v[0] / 7 - 16;
    const dy = v[1] / 7 - 16;
    seen.add(`${dx},${dy}`);
    // Rows/cols that fall in the padding are zero.
    if (dy < 0) assert.equal(out.data[0 * 96 + 3 * 16 + 2], 0);
  }
  assert.equal(seen.size, 81);
});

test("hflip mirrors columns", () => {
  const img = gradientImage(4, 2);
  const f = hflip(img);
  assert.deepEqual([...f.data.subarray(0, 3)], [...img.data.subarray(9, 12)]);
  assert.deepEqual(hflip(f).data, img.data);
});

test("torchvision helpers: round half to even, RandomResizedCrop box bounds, centre crop", () => {
  assert.equal(pyRound(2.5), 2);
  assert.equal(pyRound(3.5), 4);
  assert.equal(pyRound(-0.5), 0);
  const rng = Rng.fromKeys(3);
  for (let k = 0; k < 200; k++) {
    const b = randomResizedCropBox(500, 375, rng, [0.1, 1], [3 / 4, 4 / 3]);
    assert.ok(b.top >= 0 && b.left >= 0 && b.top + b.height <= 375 && b.left + b.width <= 500);
    assert.ok(b.width * b.height >= 0.09 * 500 * 375);
  }
  assert.deepEqual(shorterSideSize(500, 375, 257), { width: 342, height: 257 });
  assert.deepEqual(centerCropBox(342, 257, 224), { top: 16, left: 59, height: 224, width: 224 });
});

test("AutoAugment: tables equal DeepVoltaire's linspace values; every op runs at every magnitude", () => {
  assert.equal(AUTOAUGMENT_RANGES.translateX[9], 150 / 331);
  assert.ok(Math.abs(AUTOAUGMENT_RANGES.solarize[1] - 227.55555555555554) < 1e-12);
  assert.deepEqual(AUTOAUGMENT_RANGES.posterize, [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]);
  for (const name of ["cifar10", "imagenet", "svhn"] as const)
    assert.equal(AUTOAUGMENT_POLICIES[name].length, 25);
  const img = gradientImage();
  const rng = Rng.fromKeys(11);
  for (const op of Object.keys(AUTOAUGMENT_RANGES) as (keyof typeof AUTOAUGMENT_RANGES)[]) {
    for (let m = 0; m < 10; m++) {
      const out = autoAugmentOp(img, op, m, rng);
      assert.equal(out.data.length, img.data.length);
    }
  }
  assert.throws(
    () => autoAugmentOp(img, "rotate", 10, rng),
    (e: unknown) => e instanceof DataError && /0\.\.9/.test(e.message),
  );
  assert.throws(
    () => autoAugment(img, "mnist" as never, rng),
    /unknown AutoAugment policy "mnist"/,
  );
});

test("AutoAugment is a pure function of the RNG stream and leaves its input untouched", () => {
  const img = gradientImage();
  const before = img.data.slice();
  for (let s = 0; s < 50; s++) {
    const a = autoAugment(img, "cifar10", Rng.fromKeys(s));
    const b = autoAugment(img, "cifar10", Rng.fromKeys(s));
    assert.deepEqual(a.data, b.data);
  }
  assert.deepEqual(img.data, before);
});

test("RandAugment strings parse like timm; bad strings and magnitudes are errors", () => {
  const c = parseRandAugment("rand-m9-mstd0.5");
  assert.deepEqual(
    [c.magnitude, c.numLayers, c.magnitudeStd, c.increasing, c.ops.length],
    [9, 2, 0.5, false, 15],
  );
  const d = parseRandAugment("rand-m6-mstd0.5-n2");
  assert.equal(d.magnitude, 6);
  assert.deepEqual(parseRandAugment("rand-m9-n3-inc1").ops, RAND_INCREASING_TRANSFORMS);
  assert.equal(parseRandAugment("rand-w0").weightIndex, 0);
  for (const bad of [
    "rand-m11",
    "rand-m-1",
    "augmix-m5",
    "rand-x3",
    "rand-m9.5",
    "rand-mstd-1",
    "rand-inc",
    "rand-w1",
  ]) {
    assert.throws(
      () => parseRandAugment(bad),
      (e: unknown) => e instanceof DataError && e.code === "argument" && e.message.includes(bad),
      bad,
    );
  }
  const img = gradientImage();
  for (const cfgStr of ["rand-m9-mstd0.5", "rand-m9-n3-inc1-mstd1", "rand-m10-w0"]) {
    const cfg = parseRandAugment(cfgStr);
    for (let s = 0; s < 40; s++) {
      const a = randAugment(img, cfg, Rng.fromKeys(s), { fill: [124, 116, 104] });
      assert.deepEqual(
        a.data,
        randAugment(img, cfg, Rng.fromKeys(s), { fill: [124, 116, 104] }).data,
      );
    }
  }
});

test("random erasing: zero box of the requested area/ratio range, with probability p", () => {
  const params = {
    p: 0.5,
    scale: [0.125, 0.2] as [number, number],
    ratio: [0.99, 1] as [number, number],
  };
  const rng = Rng.fromKeys(21);
  let erased = 0;
  for (let k = 0; k < 400; k++) {
    const data = new Float32Array(3 * 32 * 32).fill(1);
    const box = randomErasing(data, 0, 3, 32, 32, rng, params);
    if (!box) {
      assert.ok(data.every((v) => v === 1));
      continue;
    }
    erased++;
    const zeros = data.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    assert.equal(zeros, 3 * box.height * box.width);
    assert.ok(
      box.height * box.width >= 0.11 * 1024 && box.height * box.width <= 0.21 * 1024,
      `area ${box.height}x${box.width}`,
    );
  }
  assert.ok(erased > 160 && erased < 240, `erased ${erased}/400`);
});

test("normalisation equals torchvision ToTensor+Normalize bit for bit (fixture)", () => {
  const fx = JSON.parse(
    fs.readFileSync(repoPath("test", "fixtures", "data", "normalize_torchvision.json"), "utf8"),
  ) as Record<string, string>;
  for (const kind of ["cifar10", "cifar100", "svhn", "imagenet"] as DatasetKind[]) {
    const want = new Float32Array(new Uint8Array(Buffer.from(fx[kind], "base64")).buffer);
    const table = normalizeTable(NORMALIZATION[kind].mean, NORMALIZATION[kind].std);
    for (let c = 0; c < 3; c++)
      for (let v = 0; v < 256; v++)
        assert.equal(table[c][v], want[c * 256 + v], `${kind} c${c} v${v}`);
  }
});

test("mixup: one λ and permutation; targets follow REFERENCE.md §10.19 label smoothing", () => {
  const mix = sampleMixup(Rng.fromKeys(1), 4, 0.2);
  assert.ok(mix.lambda >= 0 && mix.lambda <= 1);
  assert.deepEqual([...mix.perm].sort(), [0, 1, 2, 3]);
  const view = new Float32Array([1, 1, 2, 2, 3, 3, 4, 4]);
  const fixed = { lambda: 0.25, perm: new Int32Array([1, 0, 3, 2]) };
  applyMixup(view, 2, fixed);
  assert.deepEqual([...view], [1.75, 1.75, 1.25, 1.25, 3.75, 3.75, 3.25, 3.25]);
  const t = softTargets(new Int32Array([2]), 4, 0.1);
  assert.deepEqual(
    [...t].map((v) => +v.toFixed(6)),
    [0.025, 0.025, 0.925, 0.025],
  );
  const tm = softTargets(new Int32Array([0, 1]), 2, 0, {
    lambda: 0.75,
    perm: new Int32Array([1, 0]),
  });
  assert.deepEqual([...tm], [0.75, 0.25, 0.25, 0.75]);
  assert.throws(() => sampleMixup(Rng.fromKeys(1), 4, 0), /alpha/);
});

test("presets encode REFERENCE.md §6: CIFAR-10 always AA+erasing (0.125,0.2); ImageNet eval resize int(1.15·crop)", () => {
  const c10 = presetAugmentation("cifar10", { train: true, autoaugment: false, cutout: false });
  assert.deepEqual(c10.policy, { kind: "autoaugment", policy: "cifar10" });
  assert.deepEqual(c10.erasing?.scale, [0.125, 0.2]);
  const c100 = presetAugmentation("cifar100", { train: true });
  assert.deepEqual(c100.erasing?.scale, [0.0625, 0.1]);
  assert.deepEqual(presetAugmentation("svhn", { train: true }).erasing?.ratio, [0.9, 1.1]);
  const inet = presetAugmentation("imagenet", { train: false, cropSize: 224 });
  assert.deepEqual(inet.crop, { kind: "resizeCenter", size: 224, resize: 257 });
  const ra = presetAugmentation("imagenet", { train: true, randaugment: "rand-m9-mstd0.5" });
  assert.deepEqual(ra.policy, {
    kind: "randaugment",
    config: "rand-m9-mstd0.5",
    fill: [124, 116, 104],
  });
  assert.throws(
    () => presetAugmentation("imagenet", { train: true, randaugment: "rand-q1" }),
    /unknown section "q1"/,
  );
  assert.throws(
    () => presetAugmentation("mnist" as DatasetKind, { train: true }),
    /unknown dataset "mnist"/,
  );
  const aug = new Augmenter(c10);
  const out = new Float32Array(3072);
  aug.run(gradientImage(), out, 0, Rng.fromKeys(0));
  assert.ok(out.every(Number.isFinite));
});
