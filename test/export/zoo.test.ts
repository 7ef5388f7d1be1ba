// ONNX export, one test parametrised over EVERY registered architecture (all have deterministic
// evaluation forwards: dropout, ShakeDrop, DropBlock and drop-connect are the identity or a
// constant scale in eval mode): the ensemble graph (dynamic batch, opset 17, BN folded) passes
// onnx.checker, and in ONNX Runtime, at a batch size it was not recorded at, every output (the
// ensemble and each member's logits) matches divco's own forward to 1e-4 of the output's scale.
// Weights are drawn so logits are O(1) (helpers.ts). CIFAR architectures at 32×32, ImageNet ones
// at 64×64, S=2 where the registry allows it; the families that can be shrunk (`extra` widths)
// are, where the full width would only make the test slower. The largest ImageNet ones of families
// without `extra` widths run only with DIVCO_EXPORT_ALL=1; they are listed with the reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { create, list } from "../../src/models/index.js";
import { native } from "../../src/tensor/index.js";
import { exportOnnx, verifyExport } from "../../src/export/index.js";
import { checkerMissing, onnxCheck, randomise, tempDir } from "./helpers.js";

/** Narrower members for the families that read `extra` widths (models/options.ts). */
const SHRUNK: Record<string, Record<string, number>> = {
  wide_resnet16_8: { width: 16 },
  wide_resnet16_12: { width: 16 },
  wide_resnet28_10: { width: 16 },
  wide_resnet40_10: { width: 16 },
  wide_resnet52_8: { width: 16 },
  resnext29_8x64d: { width: 16, width_per_group: 8 },
  resnext29_16x64d: { width: 16, width_per_group: 4 },
  resnext50_32x4d: { width: 32, width_per_group: 2 },
  resnext101_32x4d: { width: 32, width_per_group: 2 },
  resnext101_64x4d: { width: 32, width_per_group: 2 },
};

/**
 * The largest ImageNet architectures whose families have no `extra` widths: not run by default
 * (the weights they write and read back dominate the time, not the graph), with the architecture
 * here that runs the same family code. DIVCO_EXPORT_ALL=1 runs them too (all pass; several
 * minutes more; efficientnetl2 peaked at 6.2 GB of memory here).
 */
const LARGE: Record<string, string> = {
  efficientnetl2: "480M parameters (external data at S=2); efficientnetb0–b5 run its blocks",
  efficientnetb6: "efficientnetb0–b5 run its blocks",
  efficientnetb7: "efficientnetb0–b5 run its blocks",
  efficientnetb8: "efficientnetb0–b5 run its blocks",
  resnest200: "resnest101 runs its blocks",
  resnest269: "resnest101 runs its blocks",
  resnexst101_8x32d: "resnexst50_4x16d/4x32d/8x16d run its blocks",
  senet154: "senet113 runs its blocks",
  se_resnext101_64x4d_B:
    "se_resnext101_64x4d has the same evaluation graph (DropBlock is the identity in eval)",
  wide_resnet50_3: "wide_resnet50_2 runs its blocks",
  wide_resnet101_2: "wide_resnet50_2 runs its blocks",
};

const SKIPPED: Record<string, string> = process.env.DIVCO_EXPORT_ALL
  ? {}
  : Object.fromEntries(
      Object.entries(LARGE).map(([k, why]) => [k, `large: ${why}; DIVCO_EXPORT_ALL=1 runs it`]),
    );

/** A crop other than the dataset's (64 for ImageNet here). */
const CROP: Record<string, number> = {
  // DropBlock's block size int(3·crop/224) must be at least 1 (the registry refuses smaller).
  se_resnet50_B: 80,
};

const missing = checkerMissing();

test("every registered architecture is exported here or listed with a reason", () => {
  const names = new Set(list().map((a) => a.name));
  for (const k of [...Object.keys(LARGE), ...Object.keys(SHRUNK), ...Object.keys(CROP)])
    assert.ok(names.has(k), `${k} is not a registered architecture`);
});

for (const info of list()) {
  const dataset = info.datasets.includes("cifar100") ? "cifar100" : info.datasets[0];
  const crop = CROP[info.name] ?? (dataset === "imagenet" ? 64 : 32);
  const S = info.splits.includes(2) ? 2 : info.splits[0];
  const extra = SHRUNK[info.name] ?? {};
  const shrunk = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : "";
  test(
    `${info.name} S=${S}${shrunk} exports and matches ONNX Runtime (${crop}×${crop})`,
    { skip: SKIPPED[info.name] },
    async () => {
      const dir = tempDir(info.name);
      const m = create(info.name, { split: S, dataset, crop, extra });
      try {
        randomise(m, 1);
        const live = native.liveTensors();
        const e = exportOnnx(m, path.join(dir, "model.onnx"));
        // Recording frees everything it made; only the model's tensors remain.
        assert.equal(native.liveTensors(), live);
        assert.deepEqual(e.files[0].outputs, [
          "ensemble",
          ...Array.from({ length: S }, (_, i) => `member_${i}`),
        ]);
        const r = await verifyExport(e, m, { batch: 1, seed: 5 });
        for (const c of r.checks) {
          assert.ok(c.scale > 0.05, `${c.output}: logits of scale ${c.scale} test nothing`);
          assert.ok(c.ok, `${c.output}: max |Δ| ${c.maxAbs} is ${c.relative} of ${c.scale}`);
        }
        if (!missing) onnxCheck([e.files[0].path]);
      } finally {
        m.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test("onnx.checker ran on every exported file", { skip: missing ?? false }, () => {
  // The per-architecture tests call it whenever it is installed; this line says so in the log.
  assert.equal(missing, null);
});
