// The export's layouts and options, each checked in ONNX Runtime against divco's forward (and by
// onnx.checker where its onnx 1.12 knows the opset): one file per member with a manifest; the
// fused network for every family's fusion path (the layout helpers' reshapes with a dynamic
// batch); opsets 13, 17, 18 and 21 with every ensemble rule; a fixed batch; BN folding on and
// off; external data; the metadata; names of the initializers (the module tree's state-dict
// keys); and the model left as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { create } from "../../src/models/index.js";
import type { DatasetKind } from "../../src/models/registry.js";
import { Members } from "../../src/models/members.js";
import { ENSEMBLE_RULES } from "../../src/models/ensemble.js";
import { CIFAR10_CLASSES } from "../../src/data/cifar.js";
import { Module, Conv2d, Linear } from "../../src/nn/index.js";
import { native, type Tensor } from "../../src/tensor/index.js";
import { decodeModel, exportOnnx, verifyExport, type OnnxExport } from "../../src/export/index.js";
import { checkerMissing, onnxCheck, randomise, tempDir } from "./helpers.js";

const missing = checkerMissing();
/** Debian's onnx 1.12 checks opsets up to 17. */
const CHECKER_MAX_OPSET = 17;

function small(arch: string, S: number, extra: Record<string, number> = {}) {
  const m = create(arch, { split: S, dataset: "cifar10", extra });
  randomise(m, 2);
  return m;
}

async function assertVerified(e: OnnxExport, m: Members, batch?: number): Promise<void> {
  const r = await verifyExport(e, m, { batch, seed: 3 });
  for (const c of r.checks)
    assert.ok(c.ok, `${c.file} ${c.output}: max |Δ| ${c.maxAbs}, ${c.relative} of ${c.scale}`);
  if (!missing && e.opset <= CHECKER_MAX_OPSET) onnxCheck(e.files.map((f) => f.path));
}

function withDir<T>(name: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir(name);
  return fn(dir).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

const readModel = (p: string) => decodeModel(fs.readFileSync(p));
const opTypes = (p: string) => readModel(p).graph.node.map((n) => n.opType);

test("separate: one file per member and a manifest; its rule over ONNX Runtime's members is divco's ensemble", () =>
  withDir("separate", async (dir) => {
    const m = small("resnet29", 2, { width: 4 });
    try {
      const e = exportOnnx(m, path.join(dir, "cifar.onnx"), {
        members: "separate",
        rule: "mean_probs",
        classNames: CIFAR10_CLASSES,
      });
      assert.deepEqual(
        e.files.map((f) => [path.basename(f.path), f.outputs, f.member]),
        [
          ["cifar.member_0.onnx", ["logits"], 0],
          ["cifar.member_1.onnx", ["logits"], 1],
        ],
      );
      assert.equal(e.manifest, path.join(dir, "cifar.json"));
      const manifest = JSON.parse(fs.readFileSync(e.manifest!, "utf8"));
      assert.equal(manifest.rule, "mean_probs");
      assert.deepEqual(manifest.input, {
        name: "input",
        shape: ["N", 3, 32, 32],
        dtype: "float32",
        layout: "NCHW",
      });
      assert.deepEqual(manifest.normalization, {
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2023, 0.1994, 0.201],
      });
      assert.deepEqual(manifest.class_names, CIFAR10_CLASSES);
      assert.deepEqual(
        manifest.files.map((f: { file: string; member: number }) => [f.file, f.member]),
        [
          ["cifar.member_0.onnx", 0],
          ["cifar.member_1.onnx", 1],
        ],
      );
      // A member file holds that member's weights under the member's own state-dict names.
      const init = readModel(e.files[1].path).graph.initializer.map((t) => t.name);
      assert.ok(init.includes("fc.weight") && !init.some((n) => n.startsWith("models.")));
      const r = await verifyExport(e, m, { seed: 3 });
      assert.deepEqual(
        r.checks.map((c) => c.output),
        ["logits", "logits", "ensemble (mean_probs of the members)"],
      );
      assert.ok(r.ok, JSON.stringify(r.checks));
      if (!missing) onnxCheck(e.files.map((f) => f.path));
    } finally {
      m.dispose();
    }
  }));

// One architecture per fusion path of infer/fuse.ts and nn/fusion.ts: basic and bottleneck
// blocks, catChannels (DenseNet, Shake-Shake's shortcut), padChannelsTo and ShakeDrop
// (PyramidNet), the fused split attention (ResNeXSt), SE gating and the shared input
// convolution of EfficientNet's depthwise blocks.
const FUSED: [string, number, DatasetKind, Record<string, number>][] = [
  ["resnet29", 2, "cifar10", { width: 4 }],
  ["resnet164", 4, "cifar10", { width: 4 }],
  ["wide_resnet16_8", 2, "cifar10", { width: 8 }],
  ["densenet190", 4, "cifar10", {}],
  ["shake_resnet26_2x32d", 2, "cifar10", {}],
  ["pyramidnet164", 4, "cifar10", {}],
  ["se_resnet110", 2, "cifar10", {}],
  ["efficientnetb0", 2, "cifar10", {}],
  ["resnexst50_4x16d", 2, "imagenet", {}],
];

for (const [arch, S, dataset, extra] of FUSED) {
  test(`fused: ${arch} S=${S} as one fused graph matches divco's members`, () =>
    withDir("fused", async (dir) => {
      const crop = dataset === "imagenet" ? 64 : 32;
      const m = create(arch, { split: S, dataset, crop, extra });
      try {
        randomise(m, 4);
        const e = exportOnnx(m, path.join(dir, "fused.onnx"), { members: "fused" });
        assert.deepEqual(e.files[0].outputs, [
          "ensemble",
          ...Array.from({ length: S }, (_, i) => `member_${i}`),
        ]);
        await assertVerified(e, m);
      } finally {
        m.dispose();
      }
    }));
}

test("fused: members that do not fuse are refused with fusion's reason", () =>
  withDir("nofuse", async (dir) => {
    class Opaque extends Module {
      readonly conv = this.module("conv", new Conv2d(3, 4, 3, { padding: 1 }));
      readonly fc = this.module("fc", new Linear(4, 2));
      forward(x: Tensor): Tensor {
        using h = this.conv.forward(x);
        using p = h.mean([2, 3]);
        return this.fc.forward(p);
      }
    }
    const opts = { split: 2, dataset: "cifar10" as const, numClasses: 2, crop: 8, extra: {} };
    const m = new Members("opaque", opts, [new Opaque(), new Opaque()]);
    try {
      assert.throws(
        () => exportOnnx(m, path.join(dir, "x.onnx"), { members: "fused" }),
        /opaque cannot be fused: \(network\) \(Opaque\): its forward may depend on the channel layout/,
      );
    } finally {
      m.dispose();
    }
  }));

test("opsets 13, 17, 18 and 21 with every ensemble rule", () =>
  withDir("opsets", async (dir) => {
    const m = small("resnet29", 4, { width: 4 });
    try {
      for (const opset of [13, 17, 18, 21]) {
        for (const rule of ENSEMBLE_RULES) {
          const e = exportOnnx(m, path.join(dir, `${opset}_${rule}.onnx`), { opset, rule });
          const model = readModel(e.files[0].path);
          assert.equal(model.opsetImport[0].version, opset);
          assert.equal(model.irVersion, opset <= 18 ? 8 : opset <= 20 ? 9 : 10);
          // From opset 18 the axes of ReduceMean/ReduceMax are an input, before an attribute.
          for (const n of model.graph.node.filter((n) => /^Reduce(Mean|Max)$/.test(n.opType))) {
            assert.equal(n.input.length, opset >= 18 ? 2 : 1, `${n.opType} at ${opset}`);
            assert.equal(
              n.attribute.some((a) => a.name === "axes"),
              opset < 18,
            );
          }
          await assertVerified(e, m);
        }
      }
    } finally {
      m.dispose();
    }
  }));

test("the batch axis: symbolic N by default, a fixed size on request", () =>
  withDir("batch", async (dir) => {
    const m = small("resnet29", 2, { width: 4 });
    try {
      const dims = (d: { dimValue?: number; dimParam?: string }[]) =>
        d.map((x) => x.dimParam ?? x.dimValue);
      const dyn = exportOnnx(m, path.join(dir, "dyn.onnx"));
      const g = readModel(dyn.files[0].path).graph;
      assert.deepEqual(dims(g.input[0].type.tensorType.shape.dim), ["N", 3, 32, 32]);
      for (const o of g.output) assert.deepEqual(dims(o.type.tensorType.shape.dim), ["N", 10]);
      for (const batch of [1, 7]) await assertVerified(dyn, m, batch);
      const fixed = exportOnnx(m, path.join(dir, "fixed.onnx"), { batch: 3 });
      const f = readModel(fixed.files[0].path).graph;
      assert.deepEqual(dims(f.input[0].type.tensorType.shape.dim), [3, 3, 32, 32]);
      assert.deepEqual(fixed.inputShape, [3, 3, 32, 32]);
      await assertVerified(fixed, m);
      await assert.rejects(verifyExport(fixed, m, { batch: 2 }), /is for batch 3/);
    } finally {
      m.dispose();
    }
  }));

test("BN folding: convolutions absorb their batch norms; --no-fold-bn keeps them; both match", () =>
  withDir("fold", async (dir) => {
    const resnet = small("resnet29", 2, { width: 4 });
    const pyramid = small("pyramidnet164", 2);
    try {
      const bns = [...resnet.namedModules()].filter(
        ([, x]) => x.constructor.name === "BatchNorm2d",
      );
      const folded = exportOnnx(resnet, path.join(dir, "folded.onnx"));
      assert.equal(folded.foldedBatchNorms, bns.length);
      assert.ok(!opTypes(folded.files[0].path).includes("BatchNormalization"));
      await assertVerified(folded, resnet);
      const kept = exportOnnx(resnet, path.join(dir, "kept.onnx"), { foldBatchNorm: false });
      assert.equal(kept.foldedBatchNorms, 0);
      assert.equal(
        opTypes(kept.files[0].path).filter((t) => t === "BatchNormalization").length,
        bns.length,
      );
      await assertVerified(kept, resnet);
      // PyramidNet's pre-activation BN reads a residual sum, not a convolution: it stays.
      const p = exportOnnx(pyramid, path.join(dir, "pyramid.onnx"));
      const left = opTypes(p.files[0].path).filter((t) => t === "BatchNormalization").length;
      assert.ok(left > 0 && p.foldedBatchNorms > 0, `${left} left, ${p.foldedBatchNorms} folded`);
      await assertVerified(p, pyramid);
    } finally {
      resnet.dispose();
      pyramid.dispose();
    }
  }));

test("initializers carry the module tree's state-dict names (unfolded), and only what runs", () =>
  withDir("names", async (dir) => {
    // Shake-Shake's blocks hold shortcut tensors their forward never reads.
    const m = small("shake_resnet26_2x32d", 2);
    try {
      const e = exportOnnx(m, path.join(dir, "m.onnx"), { foldBatchNorm: false });
      const keys = new Set(m.stateDict().keys());
      const names = readModel(e.files[0].path).graph.initializer.map((t) => t.name);
      const params = names.filter((n) => keys.has(n));
      const fc = [...m.models.items[1].namedModules()].filter(([, x]) => x instanceof Linear)[0][0];
      assert.ok(params.includes("models.0.conv_1.weight"), params.join(", "));
      assert.ok(params.includes(`models.1.${fc}.weight`), params.join(", "));
      const unused = [...keys].filter((k) => /stage_1\.1\.shortcut/.test(k));
      assert.ok(unused.length > 0 && unused.every((k) => !names.includes(k)), unused.join(", "));
      await assertVerified(e, m);
    } finally {
      m.dispose();
    }
  }));

test("external data: the weights beside the model, read by ONNX Runtime and the checker", () =>
  withDir("external", async (dir) => {
    const m = small("resnet29", 2, { width: 4 });
    try {
      const e = exportOnnx(m, path.join(dir, "ext.onnx"), { externalData: true });
      const f = e.files[0];
      assert.equal(f.dataPath, path.join(dir, "ext.onnx.data"));
      assert.equal(fs.statSync(f.dataPath!).size, f.dataBytes);
      const inline = exportOnnx(m, path.join(dir, "inline.onnx"));
      assert.ok(f.bytes < inline.files[0].bytes / 2, `${f.bytes} vs ${inline.files[0].bytes}`);
      const ext = readModel(f.path).graph.initializer.filter((t) => t.dataLocation === 1);
      assert.ok(ext.length > 0);
      await assertVerified(e, m);
    } finally {
      m.dispose();
    }
  }));

test("metadata: the divco entry says how to feed the model and read its outputs", () =>
  withDir("meta", async (dir) => {
    const m = small("resnet29", 2, { width: 4 });
    try {
      const e = exportOnnx(m, path.join(dir, "m.onnx"), {
        rule: "geometric",
        classNames: CIFAR10_CLASSES,
      });
      const model = readModel(e.files[0].path);
      assert.equal(model.producerName, "divco");
      const meta = JSON.parse(model.metadataProps.find((p) => p.key === "divco")!.value);
      assert.deepEqual(
        [meta.arch, meta.split, meta.dataset, meta.num_classes, meta.rule, meta.layout],
        ["resnet29", 2, "cifar10", 10, "geometric", "ensemble"],
      );
      assert.deepEqual(meta.files, [
        { file: "m.onnx", outputs: ["ensemble", "member_0", "member_1"] },
      ]);
      assert.deepEqual(meta.class_names, CIFAR10_CLASSES);
    } finally {
      m.dispose();
    }
  }));

test("an export leaves the model as it was: its modes, and no tensor left behind", () =>
  withDir("state", async (dir) => {
    const m = small("se_resnet110", 2);
    try {
      m.train();
      const live = native.liveTensors();
      for (const members of ["ensemble", "separate", "fused"] as const)
        exportOnnx(m, path.join(dir, `${members}.onnx`), { members });
      assert.equal(native.liveTensors(), live);
      assert.ok([...m.namedModules()].every(([, x]) => x.training));
    } finally {
      m.dispose();
    }
  }));
