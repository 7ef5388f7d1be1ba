// ImageNet forwards against PyTorch: shrunken ResNet-family networks (deep stem, ResNet-D
// shortcuts, ResNeXt groups, Wide-ResNet width per group), SE networks (SE-ResNet, SE-ResNeXt
// with the 128-channel stem, SENet-154's 3×3 conv shortcuts, SENet-113's avg-pool shortcuts)
// and a ResNeXSt on odd map sizes, built directly from their config classes. For each, the
// state dict's keys, shapes and dtypes equal the PyTorch model's (whose full-size versions the
// fixture script checked against the official code), the same weights load strictly, and the
// eval-mode logits and every stage's spatially averaged output equal PyTorch's.
//
// Weights, BN statistics and inputs come from test/helpers/hashed_fill.ts, which recomputes
// scripts/fixtures/models_imagenet/hashed_fill.py exactly, so the fixtures hold only outputs.
// Regenerate them with Debian's PyTorch:
//   /usr/bin/python3 scripts/fixtures/models_imagenet/make_fixtures.py [--official OFFICIAL_REPO]
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { loadTensors } from "../../src/io/tensors.js";
import type { Module } from "../../src/nn/module.js";
import { F } from "../../src/nn/index.js";
import { scope, noGrad, zeros, type Tensor } from "../../src/tensor/index.js";
import { ResNet } from "../../src/models/resnet.js";
import { SENet } from "../../src/models/senet.js";
import { ResNeXSt } from "../../src/models/resnexst.js";
import { assertClose } from "../helpers/engine.js";
import { hashedTensor } from "../helpers/hashed_fill.js";

const FIXTURES = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "test",
  "fixtures",
  "models_imagenet",
);

const NAMES = [
  "resnet",
  "resnext",
  "wide_resnet",
  "se_resnet",
  "se_resnext_b",
  "senet154",
  "senet113",
  "resnexst",
];

type Config = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * divco's network for a fixture's configuration (make_fixtures.py's CONFIGS). Dropout is
 * switched on (the identity in eval mode, which this checks too) and ResNet's zero-init of the
 * last BN γ is on (the loaded weights replace it).
 */
const BUILDERS: Record<string, (c: Config) => Module> = {
  resnet: (c) =>
    new ResNet({
      block: "bottleneck",
      layers: c.layers,
      stem: "deep",
      stemWidth: c.stem,
      planes: c.stem,
      groups: c.groups,
      baseWidth: c.base_width,
      numClasses: c.num_classes,
      dropout: 0.1,
      zeroInitResidual: true,
    }),
  senet: (c) =>
    new SENet({
      block: c.kind,
      layers: c.layers,
      stem: "imagenet",
      stemWidth: c.stem,
      stemOut: c.stem_out,
      groups: c.groups,
      reduction: c.reduction,
      downsampleKernel: c.shortcut_kernel,
      baseWidth: c.base_width,
      numClasses: c.num_classes,
      dropout: 0.2,
    }),
  resnexst: (c) =>
    new ResNeXSt({
      layers: c.layers,
      groups: c.groups,
      baseWidth: c.base_width,
      split: c.split,
      numClasses: c.num_classes,
      dropout: 0.1,
      stem: c.stem,
    }),
};

const TORCH_DTYPES: Record<string, string> = { float32: "f32", int64: "i64" };

/** The state dict make_fixtures.py filled: floating tensors hashed from their key, integers zero. */
function hashedState(entries: [string, number[], string][]): Map<string, Tensor> {
  const state = new Map<string, Tensor>();
  for (const [key, shape, dtype] of entries) {
    if (dtype === "float32") state.set(key, hashedTensor(key, shape));
    else if (dtype === "int64") state.set(key, zeros(shape, { dtype: "i64" }));
    else throw new Error(`fixture state: unexpected dtype ${dtype} for ${key}`);
  }
  return state;
}

function maxAbs(t: Tensor): number {
  return t.toArray().reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.toArray();
  const y = b.toArray();
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
}

/** layer0 … layer4 by their state-dict names, run in order; each output averaged over H×W. */
function pooledStages(model: Module, x: Tensor): Tensor[] {
  const children = new Map(model.namedChildren());
  const pooled: Tensor[] = [];
  let h = x;
  for (let i = 0; i <= 4; i++) {
    const layer = children.get(`layer${i}`);
    assert.ok(layer, `the network has no child "layer${i}"`);
    h = layer.forward(h);
    pooled.push(F.adaptiveAvgPool2d(h, 1).flatten(1));
  }
  return pooled;
}

for (const name of NAMES) {
  test(`${name}: keys/shapes equal PyTorch's; eval-mode stages and logits equal PyTorch's for the same weights`, (t) =>
    scope(() => {
      const { tensors, metadata } = loadTensors(join(FIXTURES, `${name}.safetensors`));
      const config = JSON.parse(String(metadata.config)) as Config;
      const entries = JSON.parse(String(metadata.state)) as [string, number[], string][];
      const model = BUILDERS[config.family](config);

      // Same keys in the same order, same shapes and dtypes (the official layout, REFERENCE.md §1.2–1.3).
      const mine = [...model.stateDict()].map(([k, v]) => `${k} ${v.shape.join(",")} ${v.dtype}`);
      const theirs = entries.map(([k, s, d]) => `${k} ${s.join(",")} ${TORCH_DTYPES[d] ?? d}`);
      assert.deepEqual(mine, theirs, `${name}: state-dict entries`);
      model.loadStateDict(hashedState(entries)); // strict: every key present, none extra, shapes equal
      model.eval();

      const x = hashedTensor("input", config.input);
      const errors: string[] = [];
      noGrad(() => {
        pooledStages(model, x).forEach((got, i) => {
          const want = tensors.get(`stage${i}`)!;
          assertClose(got, want, `${name} stage${i} (mean over H×W)`, 1e-4, 1e-5 * maxAbs(want));
          errors.push(`stage${i} ${maxAbsDiff(got, want).toExponential(2)}`);
        });
        const want = tensors.get("logits")!;
        const logits = model.forward(x);
        const scale = maxAbs(want);
        assertClose(logits, want, `${name} logits`, 1e-4, 1e-5 * scale);
        errors.push(
          `logits ${maxAbsDiff(logits, want).toExponential(2)} (max |logit| ${scale.toFixed(2)})`,
        );
      });
      t.diagnostic(`${name} max |divco − PyTorch|: ${errors.join(", ")}`);
      model.dispose();
    }));
}
