// The architectures of issue #10 — se_resnet50_B (SE-ResNet-50 with DropBlock), efficientnetb8,
// efficientnetl2, resnest101/200/269 — against the official implementation, from fixtures that
// scripts/fixtures/models_c/make_fixtures.py wrote by running it:
// - structure: at every S the official SplitNet allows, one member's state-dict keys and shapes
//   (sha256 digest), entries, elements and parameters; for se_resnet50_B also every DropBlock
//   layer (where, p = 0.1/√S, block size, γ scale) and the FC dropout 0.2/√S (REFERENCE.md §2);
// - numerics: a shrunken official SENet with se_resnet50_B's DropBlock settings, eval-mode and
//   train-mode (same seed: DropBlock and dropout draw the same numbers), and a shrunken official
//   ResNeSt, loaded strictly with hashed weights (test/helpers/hashed_fill.ts);
// - the rules around them: block size int(3·crop/224), S = 1 only for ResNeSt, the concurrent-
//   members probe sees DropBlock's draws.
// Building efficientnetl2 (480M parameters at S=1) dominates this file's time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { loadTensors } from "../../src/io/tensors.js";
import { create, lookup, NUM_CLASSES, ArchError } from "../../src/models/index.js";
import type { Module } from "../../src/nn/module.js";
import { DropBlock2d, F, Dropout } from "../../src/nn/index.js";
import { scope, noGrad, zeros, manualSeed, type Tensor } from "../../src/tensor/index.js";
import { SENet, SENET_INPLANES } from "../../src/models/senet.js";
import { ResNeSt } from "../../src/models/resnest.js";
import { drawsRandomInForward } from "../../src/cotrain/concurrent.js";
import { assertClose } from "../helpers/engine.js";
import { hashedTensor } from "../helpers/hashed_fill.js";

const FIXTURES = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "test",
  "fixtures",
  "models_c",
);

interface OfficialSplit {
  digest: string;
  entries: number;
  stateNumel: number;
  params: number;
  /** se_resnet50_B only: [block, p, block size, γ scale] per DropBlock layer, and the FC dropout. */
  dropBlocks?: [string, number, number, number][];
  dropout?: number;
}
const official = JSON.parse(readFileSync(join(FIXTURES, "official_keys.json"), "utf8")) as {
  archs: Record<string, { splits: Record<string, OfficialSplit> }>;
};

function member(arch: string, split: number, crop?: number): Module {
  const e = lookup(arch);
  return e.member({
    split,
    dataset: "imagenet",
    numClasses: NUM_CLASSES.imagenet,
    crop: crop ?? e.defaultCrop ?? 224,
    extra: {},
  });
}

function stateDigest(m: Module): { digest: string; entries: number; stateNumel: number } {
  let text = "";
  let numel = 0;
  const state = m.stateDict();
  for (const [k, t] of state) {
    text += `${k} ${t.shape.join(",")}\n`;
    numel += t.numel;
  }
  return {
    digest: createHash("sha256").update(text).digest("hex"),
    entries: state.size,
    stateNumel: numel,
  };
}

test("keys, shapes and parameter counts equal the official networks' at every S it allows", () => {
  assert.deepEqual(Object.keys(official.archs).sort(), [
    "efficientnetb8",
    "efficientnetl2",
    "resnest101",
    "resnest200",
    "resnest269",
    "se_resnet50_B",
  ]);
  for (const [arch, entry] of Object.entries(official.archs)) {
    assert.deepEqual(
      lookup(arch).splits.map(String),
      Object.keys(entry.splits),
      `${arch}: registered S values`,
    );
    for (const [s, want] of Object.entries(entry.splits)) {
      const m = member(arch, Number(s));
      try {
        const got = stateDigest(m);
        const what = `${arch} S=${s}`;
        assert.equal(got.entries, want.entries, `${what}: state-dict entries`);
        assert.equal(got.stateNumel, want.stateNumel, `${what}: elements`);
        assert.equal(got.digest, want.digest, `${what}: keys/shapes digest`);
        assert.equal(m.numParameters(), want.params, `${what}: parameters`);
      } finally {
        m.dispose();
      }
    }
  }
});

test("se_resnet50_B: DropBlock where the reference puts it, p = 0.1/√S, block 3 at 224; FC dropout 0.2/√S", () => {
  for (const [s, want] of Object.entries(official.archs.se_resnet50_B.splits)) {
    const m = member("se_resnet50_B", Number(s), 224) as SENet;
    try {
      const drops: [string, number, number, number][] = [];
      for (const [name, mod] of m.namedModules())
        if (mod instanceof DropBlock2d)
          drops.push([name.slice(0, -".drop".length), mod.p, mod.blockSize, mod.gammaScale]);
      assert.deepEqual(drops, want.dropBlocks, `S=${s}: DropBlock layers`);
      assert.equal(m.dropout?.p, want.dropout, `S=${s}: FC dropout`);
    } finally {
      m.dispose();
    }
  }
  // Block size int(3·crop/224) (senet.py), so the crop the network is built for matters.
  for (const [crop, size] of [
    [224, 3],
    [320, 4],
    [416, 5],
    [600, 8],
  ]) {
    const m = member("se_resnet50_B", 2, crop);
    const sizes = new Set<number>();
    for (const [, mod] of m.namedModules())
      if (mod instanceof DropBlock2d) sizes.add(mod.blockSize);
    assert.deepEqual([...sizes], [size], `crop ${crop}`);
    m.dispose();
  }
  assert.throws(
    () => member("se_resnet50_B", 1, 64),
    /se_resnet50_B: DropBlock's block size int\(3·crop\/224\) is 0 at crop 64 .*use a crop of at least 75/,
  );
  // extra.dropBlock replaces the undivided 0.1.
  const m = lookup("se_resnet50_B").member({
    split: 4,
    dataset: "imagenet",
    numClasses: 1000,
    crop: 224,
    extra: { dropBlock: 0.3 },
  });
  const ps = new Set<number>();
  for (const [, mod] of m.namedModules()) if (mod instanceof DropBlock2d) ps.add(mod.p);
  assert.deepEqual([...ps], [0.3 / 2]);
  m.dispose();
});

test("ResNeSt-101/200/269 are S=1 only (the reference asserts it) and ImageNet only", () => {
  for (const arch of ["resnest101", "resnest200", "resnest269"]) {
    assert.deepEqual(lookup(arch).splits, [1]);
    assert.throws(
      () => create(arch, { split: 2, dataset: "imagenet" }),
      (e: Error) =>
        e instanceof ArchError && /cannot be divided into S=2; allowed: 1/.test(e.message),
    );
    assert.throws(
      () => create(arch, { split: 1, dataset: "cifar100" }),
      /not defined for cifar100/,
    );
  }
  assert.deepEqual(
    ["resnest101", "resnest200", "resnest269"].map((a) => lookup(a).defaultCrop),
    [256, 320, 416],
  );
  assert.deepEqual(
    ["efficientnetb8", "efficientnetl2"].map((a) => lookup(a).defaultCrop),
    [672, 800],
  );
});

// ---- numerics against the official classes ------------------------------------------------

type Config = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TORCH_DTYPES: Record<string, string> = { float32: "f32", int64: "i64" };

/** The state the fixture script filled: floating tensors hashed from their key, integers zero. */
function hashedState(entries: [string, number[], string][]): Map<string, Tensor> {
  const state = new Map<string, Tensor>();
  for (const [key, shape, dtype] of entries)
    state.set(key, dtype === "int64" ? zeros(shape, { dtype: "i64" }) : hashedTensor(key, shape));
  return state;
}

function maxAbs(t: Tensor): number {
  return t.toArray().reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/** Loads the fixture's weights strictly into `model` after checking keys, shapes and dtypes. */
function loadFixture(name: string, model: Module, entries: [string, number[], string][]): void {
  const mine = [...model.stateDict()].map(([k, v]) => `${k} ${v.shape.join(",")} ${v.dtype}`);
  const theirs = entries.map(([k, s, d]) => `${k} ${s.join(",")} ${TORCH_DTYPES[d] ?? d}`);
  assert.deepEqual(mine, theirs, `${name}: state-dict entries`);
  model.loadStateDict(hashedState(entries));
}

function assertStages(name: string, stages: Tensor[], tensors: Map<string, Tensor>): void {
  stages.forEach((s, i) => {
    const want = tensors.get(`stage${i}`)!;
    assertClose(
      F.adaptiveAvgPool2d(s, 1).flatten(1),
      want,
      `${name} stage${i}`,
      1e-4,
      1e-5 * maxAbs(want),
    );
  });
}

test("SE-ResNet with se_resnet50_B's DropBlock: eval and seeded train-mode logits equal the official network's", () =>
  scope(() => {
    const { tensors, metadata } = loadTensors(join(FIXTURES, "se_resnet_b.safetensors"));
    const c = JSON.parse(String(metadata.config)) as Config;
    const w = SENET_INPLANES.imagenet[c.split];
    const blockSize = Math.trunc((3 * c.crop) / 224);
    const model = new SENet({
      block: "se_resnet",
      layers: c.layers,
      stem: "imagenet",
      stemWidth: w,
      stemOut: w,
      groups: 1,
      reduction: 16,
      downsampleKernel: 1,
      baseWidth: 64,
      numClasses: c.num_classes,
      dropout: 0.2 / Math.sqrt(c.split),
      dropBlock: { p: 0.1 / Math.sqrt(c.split), blockSizes: [0, 0, blockSize, blockSize] },
    });
    loadFixture("se_resnet_b", model, JSON.parse(String(metadata.state)));
    const x = hashedTensor("input", c.input);
    model.eval();
    noGrad(() => {
      const children = new Map(model.namedChildren());
      const stages: Tensor[] = [];
      let h = x;
      for (let i = 0; i <= 4; i++) stages.push((h = children.get(`layer${i}`)!.forward(h)));
      assertStages("se_resnet_b", stages, tensors);
      const want = tensors.get("logits")!;
      assertClose(model.forward(x), want, "se_resnet_b eval logits", 1e-4, 1e-5 * maxAbs(want));
      // Training mode: batch statistics, DropBlock after every BN of stages 3–4, FC dropout —
      // the same draws as the official network's after the same seed.
      model.train();
      manualSeed(c.train_seed);
      const trainWant = tensors.get("train_logits")!;
      const trainGot = model.forward(x);
      assertClose(trainGot, trainWant, "se_resnet_b train logits", 1e-4, 1e-5 * maxAbs(trainWant));
      // Not the eval logits: the draws did something.
      assert.ok(maxAbs(trainGot.sub(want)) > 1e-3);
    });
    assert.ok(model.dropout instanceof Dropout);
    model.dispose();
  }));

test("ResNeSt: keys/shapes equal the official network's; eval-mode stages and logits equal its", () =>
  scope(() => {
    const { tensors, metadata } = loadTensors(join(FIXTURES, "resnest.safetensors"));
    const c = JSON.parse(String(metadata.config)) as Config;
    const model = new ResNeSt({
      layers: c.layers,
      stemWidth: c.stem_width,
      bottleneckWidth: c.bottleneck_width,
      numClasses: c.num_classes,
    });
    loadFixture("resnest", model, JSON.parse(String(metadata.state)));
    model.eval();
    const x = hashedTensor("input", c.input);
    noGrad(() => {
      const stages = [
        F.maxPool2d(F.relu(model.bn1.forward(model.conv1.forward(x))), 3, {
          stride: 2,
          padding: 1,
        }),
      ];
      for (const stage of model.stages) stages.push(stage.forward(stages[stages.length - 1]));
      assertStages("resnest", stages, tensors);
      const want = tensors.get("logits")!;
      assertClose(model.forward(x), want, "resnest logits", 1e-4, 1e-5 * maxAbs(want));
    });
    model.dispose();
  }));

test("concurrent members refuse se_resnet50_B: its DropBlock draws random numbers in the forward", () => {
  const o = {
    split: 2,
    dataset: "imagenet" as const,
    numClasses: 10,
    crop: 96,
    extra: { dropout: 0 },
  };
  // FC dropout off, so the only draws left are DropBlock's.
  assert.equal(drawsRandomInForward("se_resnet50_B", o), true);
  assert.equal(drawsRandomInForward("se_resnet50", o), false);
});
