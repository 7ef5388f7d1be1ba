// The co-training objective against a PyTorch transcription of the reference's formulas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  jsDivergence,
  klSeparate,
  sumCrossEntropy,
  coTrainingWeight,
} from "../../src/cotrain/losses.js";
import { LrSchedule, LR_DEFAULTS, type LrMode } from "../../src/optim/schedule.js";
import { scope, tensor, zeros, type Tensor } from "../../src/tensor/index.js";
import { fixture, get, assertClose } from "../helpers/engine.js";
import { F } from "../../src/nn/index.js";

const fx = fixture("losses", "cotrain");

for (const S of [2, 3, 4]) {
  for (const [name, fn] of [
    ["js", jsDivergence],
    ["kl", klSeparate],
  ] as const) {
    test(`${name} S=${S}: value and gradients equal the reference formula's`, () =>
      scope(() => {
        const zs = Array.from({ length: S }, (_, i) =>
          get(fx, `z_S${S}_${i}`).clone().requiresGrad_(),
        );
        const v = fn(zs);
        assertClose(v, get(fx, `${name}_S${S}`), `${name} value`, 1e-5, 1e-7);
        v.backward();
        zs.forEach((z, i) =>
          assertClose(z.grad!, get(fx, `${name}_S${S}_grad${i}`), `${name} grad ${i}`, 1e-4, 1e-7),
        );
      }));
  }
}

test("JS stays finite where the reference's log(p̄) meets an exact zero (REFERENCE.md §10.4)", () =>
  scope(() => {
    // Logits 200 apart: softmax underflows to exactly 0 in fp32 for both members.
    const a = tensor([[200, 0, 0]]).requiresGrad_();
    const b = tensor([[200, 0, -5]]).requiresGrad_();
    const js = jsDivergence([a, b]);
    assert.ok(Number.isFinite(js.item()) && Math.abs(js.item()) < 1e-6, `JS ${js.item()}`);
    js.backward();
    assert.ok(a.grad!.isfinite().all().item() && b.grad!.isfinite().all().item());
    // The reference formula, as written, gives NaN here: 0·log(0).
    const p = F.softmax(tensor([[200, 0, 0]]), -1);
    assert.ok(Number.isNaN(p.mul(p.log()).sum().item()));
  }));

test("summed CE with mixup soft targets equals the reference's λ-weighted pair of CEs", () =>
  scope(() => {
    const y = get(fx, "mix_y");
    const perm = get(fx, "mix_perm");
    const lam = 0.7;
    const onehot = (idx: Tensor) => zeros([6, 10]).scatter(1, idx.unsqueeze(1), 1);
    const soft = onehot(y)
      .mul(lam)
      .add(onehot(y.index([perm])).mul(1 - lam));
    const ce = sumCrossEntropy([get(fx, "mix_z0"), get(fx, "mix_z1")], soft);
    assertClose(ce, get(fx, "mix_ce"), "mixup CE", 1e-6, 1e-6);
  }));

test("co-training weight: per-epoch linear warm-up with the 0.005 floor (REFERENCE.md §3.2)", () => {
  assert.deepEqual(
    [0, 1, 2, 3].map((e) => coTrainingWeight(e, 0.5, 2)),
    [0.005, 0.25, 0.5, 0.5],
  );
  assert.equal(coTrainingWeight(20, 0.5, 40), 0.25);
  assert.equal(coTrainingWeight(1.7, 0.5, 2), 0.25, "whole epochs only");
  assert.equal(coTrainingWeight(0, 0.5, 0), 0.5, "no warm-up");
});

const lrCases = JSON.parse(
  readFileSync(
    fileURLToPath(new URL("../../../test/fixtures/cotrain/lr.json", import.meta.url)),
    "utf8",
  ),
) as {
  config: {
    mode: LrMode;
    init_lr: number;
    num_epochs: number;
    iters: number;
    milestones: number[];
    slow_start_epochs: number;
    slow_start_lr: number;
    end_lr: number;
  };
  lrs: number[];
}[];
for (const { config: c, lrs } of lrCases) {
  test(`lr schedule ${c.mode} (warm-up ${c.slow_start_epochs}) equals the reference, every iteration`, () => {
    const s = new LrSchedule({
      ...LR_DEFAULTS,
      mode: c.mode,
      lr: c.init_lr,
      epochs: c.num_epochs,
      itersPerEpoch: c.iters,
      milestones: c.milestones,
      warmupEpochs: c.slow_start_epochs,
      warmupStartLr: c.slow_start_lr,
      endLr: c.end_lr,
    });
    lrs.forEach((want, k) => {
      const got = s.at(Math.floor(k / c.iters), k % c.iters);
      assert.ok(
        Math.abs(got - want) <= 1e-12 * Math.max(1, want),
        `iteration ${k}: ${got} vs ${want}`,
      );
    });
  });
}
