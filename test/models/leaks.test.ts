// Every model forward must free its intermediates: outside any scope, one training forward +
// `.sum().backward()` (then disposing the output and the loss), and one evaluation forward under
// noGrad, must leave `native.liveTensors()` where it was. Parameters' `.grad` are not handles
// and are never read here. One member per architecture, disposed after its case.
//
// Cost (whole file under ~60 s on 2 cores with DIVCO_NUM_THREADS=1):
// - CIFAR/SVHN architectures: batch 2 at 32×32, S=1 — except the heaviest ones listed in
//   NARROW, which run at their largest allowed S instead: the member's forward is the same
//   code (same blocks, shortcuts, ShakeDrop/Shake-Shake paths), only narrower.
// - ImageNet-only architectures: only the small ones in IMAGENET_SMALL, batch 2 at 64×64, S=1;
//   se_resnet50_B (DropBlock) at its narrowest S, built for crop 224 (see below).
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, list, type DatasetKind } from "../../src/models/index.js";
import { native, noGrad, randn, manualSeed } from "../../src/tensor/index.js";

/** Heavy CIFAR architectures (≥ ~1 s per forward+backward at S=1): run at their largest S. */
const NARROW = new Set([
  "densenet190",
  "pyramidnet164",
  "pyramidnet272",
  "resnext29_8x64d",
  "resnext29_16x64d",
  "shake_resnet26_2x96d",
  "wide_resnet16_12",
  "wide_resnet28_10",
  "wide_resnet40_10",
  "wide_resnet52_8",
]);

/** ImageNet-only architectures small enough to run at 64×64 in this budget. */
const IMAGENET_SMALL = new Set([
  "resnet50",
  "efficientnetb0",
  "resnexst50_4x16d",
  "se_resnet50",
  "resnext50_32x4d",
  "resnest101",
]);

interface Case {
  name: string;
  dataset: DatasetKind;
  split: number;
  size: number;
  extra?: Record<string, unknown>;
  /** The crop the network is built for, when not `size`. */
  crop?: number;
  label: string;
}

const cases: Case[] = [];
for (const a of list()) {
  const cifar = a.datasets.find((d) => d !== "imagenet");
  if (cifar) {
    const split = NARROW.has(a.name) ? Math.max(...a.splits) : 1;
    cases.push({
      name: a.name,
      dataset: cifar,
      split,
      size: 32,
      label: `${a.name} S=${split} ${cifar} 32×32`,
    });
  } else if (IMAGENET_SMALL.has(a.name)) {
    cases.push({
      name: a.name,
      dataset: "imagenet",
      split: 1,
      size: 64,
      label: `${a.name} S=1 imagenet 64×64`,
    });
  }
}
// The small ImageNet archs that also have a CIFAR variant take the ImageNet path too.
for (const name of ["efficientnetb0"]) {
  cases.push({
    name,
    dataset: "imagenet",
    split: 1,
    size: 64,
    label: `${name} S=1 imagenet 64×64`,
  });
}
// se_resnet50_B's DropBlock (training only) has its own mask and dispose paths. Built for crop
// 224 (block size int(3·224/224) = 3; a crop of 64 would give 0, which it refuses), run at
// 64×64: stage 3 (4×4) uses 3×3 blocks, stage 4 (2×2) the clipped, even 2×2 ones.
cases.push({
  name: "se_resnet50_B",
  dataset: "imagenet",
  split: 8,
  size: 64,
  crop: 224,
  label: "se_resnet50_B S=8 imagenet 64×64 (built for 224) + DropBlock",
});
// DenseNet's optional ShakeDrop (off by default) has its own dispose paths.
cases.push({
  name: "densenet190",
  dataset: "cifar10",
  split: 16,
  size: 32,
  extra: { shakeDrop: 0.5 },
  label: "densenet190 S=16 cifar10 32×32 + ShakeDrop",
});

const seen = new Set<string>();
for (const c of cases) {
  if (seen.has(c.label)) continue;
  seen.add(c.label);
  test(`no leaked tensors: ${c.label}`, () => {
    manualSeed(0);
    const members = create(c.name, {
      split: c.split,
      dataset: c.dataset,
      crop: c.crop ?? c.size,
      extra: c.extra,
    });
    const model = members.models.at(0);
    const x = randn([2, 3, c.size, c.size]);
    try {
      // Training: twice, so ShakeDrop's random gates take both branches somewhere.
      model.train();
      for (let i = 0; i < 2; i++) {
        const before = native.liveTensors();
        const y = model.forward(x);
        const loss = y.sum();
        loss.backward();
        y.dispose();
        loss.dispose();
        assert.equal(
          native.liveTensors() - before,
          0,
          `${c.label}: train forward+backward #${i + 1} leaked`,
        );
      }
      assert.ok(!x.disposed, `${c.label}: the forward disposed its input`);

      model.eval();
      const before = native.liveTensors();
      noGrad(() => model.forward(x).dispose());
      assert.equal(native.liveTensors() - before, 0, `${c.label}: eval forward leaked`);
      assert.ok(!x.disposed, `${c.label}: the eval forward disposed its input`);
    } finally {
      x.dispose();
      members.dispose();
    }
  });
}
