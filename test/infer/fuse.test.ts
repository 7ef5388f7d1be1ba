// Horizontal fusion, one test parametrised over EVERY registered architecture: the fused
// network's per-member logits equal the members' own (sequential) logits to 1e-5 in fp32, on
// weights and batch-norm statistics drawn so that logits are O(1) (the reference's initial
// classifier N(0, 1e-3²) would make any absolute tolerance meaningless). CIFAR architectures
// at 16×16, ImageNet ones at 64×64. Every registered architecture fuses; the refusals are
// tested on small networks built for the purpose.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, list } from "../../src/models/index.js";
import type { Members } from "../../src/models/members.js";
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  ReLU,
  Sequential,
  markChannelAgnostic,
} from "../../src/nn/index.js";
import {
  Generator,
  inferenceMode,
  native,
  noGrad,
  randn,
  scope,
  type Tensor,
} from "../../src/tensor/index.js";
import { FusedMembers, FusionError, fusionRefusals } from "../../src/infer/fuse.js";

/** Draws every parameter and running statistic so that activations stay O(1) through the net. */
function randomise(m: Members, seed: number): void {
  const g = new Generator(seed);
  noGrad(() => {
    for (const [k, t] of m.stateDict()) {
      if (t.dtype !== "f32") continue;
      if (k.endsWith("running_var")) t.uniform_(0.5, 1.5, g);
      else if (k.endsWith("running_mean")) t.normal_(0, 0.1, g);
      else if (t.ndim === 1 && k.endsWith(".weight")) t.uniform_(0.5, 1.0, g);
      else if (t.ndim === 1) t.normal_(0, 0.1, g);
      else {
        const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1);
        t.normal_(0, 1 / Math.sqrt(fanIn), g);
      }
    }
  });
}

function maxAbsDiff(a: Tensor[], b: Tensor[]): { diff: number; scale: number } {
  return scope(() => {
    let diff = 0;
    let scale = 0;
    a.forEach((z, i) => {
      diff = Math.max(diff, z.sub(b[i]).abs().max().item());
      scale = Math.max(scale, z.abs().max().item());
    });
    return { diff, scale };
  });
}

const BUILT_AT_DEFAULT_CROP = new Set(["se_resnet50_B"]);

for (const info of list()) {
  const dataset = info.datasets.includes("cifar100") ? "cifar100" : info.datasets[0];
  const size = dataset === "imagenet" ? 64 : 16;
  // S=2 where allowed; the S=1-only baselines (ResNeSt) fuse their one member.
  const S = info.splits.includes(2) ? 2 : (info.splits.find((s) => s > 1) ?? 1);
  // se_resnet50_B's DropBlock size is int(3·crop/224), at least 1 only from crop 75: build it for
  // its own crop; in evaluation DropBlock is the identity, so a small input runs all the same.
  const crop = BUILT_AT_DEFAULT_CROP.has(info.name) ? undefined : size;
  test(`${info.name} S=${S} fused = sequential (${size}×${size})`, () => {
    const m = create(info.name, { split: S, dataset, crop });
    try {
      randomise(m, 1);
      m.eval();
      const x = randn([2, 3, size, size], { generator: new Generator(2) });
      const live = native.liveTensors();
      const fused = FusedMembers.build(m.models.items, x, info.name);
      try {
        const want = inferenceMode(() => scope(() => m.forwardEach(x)));
        const got = fused.forward(x);
        const { diff, scale } = maxAbsDiff(want, got);
        assert.ok(scale > 0.05, `logits of scale ${scale} test nothing`);
        assert.ok(diff <= 1e-5 * Math.max(1, scale), `max |fused − sequential| = ${diff}`);
        for (const t of [...want, ...got]) t.dispose();
      } finally {
        fused.dispose();
      }
      // The fused network's tensors are its own: freeing them leaves exactly what was there.
      assert.equal(native.liveTensors(), live);
      x.dispose();
    } finally {
      m.dispose();
    }
  });
}

test("fusion with S=4 (grouped convolutions with 4× the groups) and S=1 equal sequential", () => {
  for (const [arch, S] of [
    ["resnext29_8x64d", 4],
    ["se_resnet110", 4],
    ["densenet190", 4],
    ["resnet29", 1],
  ] as const) {
    const m = create(arch, { split: S, dataset: "cifar100" });
    try {
      randomise(m, 3);
      m.eval();
      const x = randn([3, 3, 16, 16], { generator: new Generator(4) });
      using fused = FusedMembers.build(m.models.items, x, arch);
      const want = inferenceMode(() => scope(() => m.forwardEach(x)));
      const got = fused.forward(x);
      const { diff, scale } = maxAbsDiff(want, got);
      assert.ok(diff <= 1e-5 * Math.max(1, scale), `${arch} S=${S}: ${diff}`);
      assert.equal(got.length, S);
    } finally {
      m.dispose();
    }
  }
});

/** A block whose forward reshapes channels itself, and is not declared channel-agnostic. */
class ChannelShuffle extends Module {
  readonly conv = this.module("conv", new Conv2d(4, 4, 1, { bias: false }));
  forward(x: Tensor): Tensor {
    using y = this.conv.forward(x);
    const [n, c, h, w] = y.shape;
    return y
      .reshape([n, 2, c / 2, h, w])
      .transpose(1, 2)
      .reshape([n, c, h, w]);
  }
}

/** A declared channel-agnostic block that holds a parameter of its own: no rule fuses that. */
class Scaled extends Module {
  readonly scale = this.param("scale", randn([1], { generator: new Generator(5) }));
  forward(x: Tensor): Tensor {
    return x.mul(this.scale);
  }
}
markChannelAgnostic(Scaled);

class Head extends Module {
  constructor(readonly body: Sequential) {
    super();
    this.module("body", body);
  }
  readonly fc = this.module("fc", new Linear(4, 3));
  forward(x: Tensor): Tensor {
    using f = this.body.forward(x);
    using pooled = f.mean([2, 3]);
    return this.fc.forward(pooled);
  }
}
markChannelAgnostic(Head);

test("fusion refuses what no rule covers, naming the module's path and class", () => {
  const x = randn([1, 3, 8, 8], { generator: new Generator(6) });
  const cases: [() => Module, RegExp][] = [
    [
      () =>
        new Head(
          new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new ReLU(), new ChannelShuffle()),
        ),
      /body\.2 \(ChannelShuffle\): its forward may depend on the channel layout/,
    ],
    [
      () => new Head(new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new Scaled())),
      /body\.1 \(Scaled\): it holds parameters or buffers of its own/,
    ],
    [
      () => new Head(new Sequential(new BatchNorm2d(3), new Conv2d(3, 4, 3, { padding: 1 }))),
      /body\.0 \(BatchNorm2d\): it receives the input image first/,
    ],
  ];
  for (const [build, reason] of cases) {
    const members = [build(), build()];
    assert.ok(fusionRefusals(members[0], x).length > 0);
    assert.throws(
      () => FusedMembers.build(members, x, "toy"),
      (e: unknown) => e instanceof FusionError && reason.test(e.message),
    );
    for (const m of members) m.dispose();
  }
  x.dispose();
});

test("a network that reads channels only through marked modules fuses, whatever its class", () => {
  const x = randn([2, 3, 8, 8], { generator: new Generator(7) });
  const members = [0, 1].map(
    () => new Head(new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new ReLU())),
  );
  for (const m of members) m.eval();
  assert.deepEqual(fusionRefusals(members[0], x), []);
  using fused = FusedMembers.build(members, x, "toy");
  const want = inferenceMode(() => scope(() => members.map((m) => m.forward(x))));
  const got = fused.forward(x);
  assert.ok(maxAbsDiff(want, got).diff <= 1e-6);
  for (const m of members) m.dispose();
});
