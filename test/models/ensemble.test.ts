// The one ensemble function (src/models/ensemble.ts, REFERENCE.md §4): each rule's values,
// mean_logits bit for bit as the sum in member order divided by S (what Members.forward, the
// training step and `divco infer` computed by hand before), input checks, and no leaked tensors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ensemble, ENSEMBLE_RULES } from "../../src/models/ensemble.js";
import { create } from "../../src/models/registry.js";
import "../../src/models/index.js";
import { manualSeed, native, noGrad, randn, scope, tensor } from "../../src/tensor/index.js";
import { assertCloseNumbers } from "../helpers/engine.js";

test("ensemble rules", () =>
  scope(() => {
    const a = tensor([[2, 0, 0]]);
    const b = tensor([[0, 1, 0]]);
    assert.deepEqual(ensemble("mean_logits", [a, b]).toArray(), [1, 0.5, 0]);
    for (const rule of ["mean_probs", "max", "geometric"] as const) {
      assert.equal(ensemble(rule, [a, b]).argmax(1).item(), 0, rule);
    }
    assert.throws(() => ensemble("median" as never, [a, b]), /unknown ensemble rule/);
  }));

test("every rule's values equal the formula computed in doubles", () =>
  scope(() => {
    const rows = [
      [1.5, -0.25, 0.75, 2],
      [0.5, 1, -1, 0.25],
      [-0.5, 0.125, 3, 1],
    ];
    const probs = rows.map((z) => {
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((x, y) => x + y, 0);
      return e.map((v) => v / s);
    });
    const col = (f: (vs: number[]) => number, of: number[][]) =>
      of[0].map((_, k) => f(of.map((r) => r[k])));
    const mean = (vs: number[]) => vs.reduce((x, y) => x + y, 0) / vs.length;
    const want = {
      mean_logits: col(mean, rows),
      mean_probs: col(mean, probs),
      max: col((vs) => Math.max(...vs), probs),
      geometric: col((vs) => Math.exp(mean(vs.map(Math.log))), probs),
    };
    const logits = rows.map((r) => tensor([r]));
    for (const rule of ENSEMBLE_RULES) {
      const got = ensemble(rule, logits);
      assert.deepEqual(got.shape, [1, 4], rule);
      assertCloseNumbers(got.toArray(), want[rule], rule, 1e-6);
    }
  }));

test("mean_logits is the members' sum in member order divided by S, bit for bit (S = 1..4)", () =>
  scope(() => {
    manualSeed(5);
    for (let S = 1; S <= 4; S++) {
      const zs = Array.from({ length: S }, () => randn([16, 10]).mul(4));
      let sum = zs[0];
      for (let i = 1; i < S; i++) sum = sum.add(zs[i]);
      assert.deepEqual(ensemble("mean_logits", zs).toArray(), sum.div(S).toArray(), `S=${S}`);
    }
  }));

test("the inputs are left alone and nothing leaks; bad inputs are refused with the reason", () => {
  manualSeed(1);
  const zs = [randn([3, 5]), randn([3, 5]), randn([3, 5])];
  const before = zs.map((z) => z.toArray());
  const live = native.liveTensors();
  for (const rule of ENSEMBLE_RULES) ensemble(rule, zs).dispose();
  assert.equal(native.liveTensors(), live, "every intermediate is freed");
  assert.deepEqual(
    zs.map((z) => z.toArray()),
    before,
    "the members' logits are unchanged",
  );
  assert.throws(() => ensemble("mean_logits", []), /no member logits/);
  const odd = randn([3, 4]);
  assert.throws(
    () => ensemble("mean_probs", [zs[0], odd]),
    /member 1's logits have shape \[3,4\], member 0's \[3,5\]/,
  );
  assert.equal(native.liveTensors(), live + 1, "a refused call makes nothing");
  for (const t of [...zs, odd]) t.dispose();
});

test("Members.forward is the mean_logits ensemble of forwardEach", () => {
  manualSeed(2);
  const members = create("resnet29", { split: 2, dataset: "cifar10" });
  try {
    members.eval();
    noGrad(() =>
      scope(() => {
        const x = randn([2, 3, 32, 32]);
        const live = native.liveTensors();
        members.forward(x).dispose();
        assert.equal(native.liveTensors(), live, "the members' logits are freed");
        assert.deepEqual(
          members.forward(x).toArray(),
          ensemble("mean_logits", members.forwardEach(x)).toArray(),
        );
      }),
    );
  } finally {
    members.dispose();
  }
});
