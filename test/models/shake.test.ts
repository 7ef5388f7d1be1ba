// Shake-Shake and ShakeDrop (REFERENCE.md §10.20): the forward uses α, the gradient uses an
// independent β — checked against values computed from the same generator's draws — plus
// evaluation semantics and ShakeDrop's per-batch gate.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Generator,
  rand,
  randn,
  scope,
  zeros,
  noGrad,
  type Tensor,
} from "../../src/tensor/index.js";
import { shakeShake, shakeDrop, ShakeDrop } from "../../src/models/shake.js";
import { ShakeResNet } from "../../src/models/shake_shake.js";
import { PyramidNet } from "../../src/models/pyramidnet.js";
import { assertClose } from "../helpers/engine.js";

const N = 4;
const SHAPE = [N, 3, 2, 2];

/** Leaf inputs in f64 (exact comparisons) and a random upstream gradient w: loss = Σ y·w. */
function leaves(seed: number): { a: Tensor; b: Tensor; w: Tensor } {
  const g = new Generator(seed);
  const make = () => randn(SHAPE, { generator: g, dtype: "f64" });
  const a = make().requiresGrad_();
  const b = make().requiresGrad_();
  return { a, b, w: make() };
}

/** Per-sample coefficients drawn as the functions draw them: U[lo, hi), shape N×1×1×1. */
function draws(g: Generator, lo: number, hi: number): Tensor {
  return noGrad(() =>
    rand([N, 1, 1, 1], { generator: g, dtype: "f64" })
      .mul(hi - lo)
      .add(lo),
  );
}

test("Shake-Shake: forward α·a + (1−α)·b, gradients β·g and (1−β)·g with an independent β", () =>
  scope(() => {
    const { a, b, w } = leaves(1);
    const y = shakeShake(a, b, { training: true, generator: new Generator(7) });
    y.mul(w).sum().backward();
    // The same generator state replays the draws: α first, then β.
    const g = new Generator(7);
    const alpha = draws(g, 0, 1);
    const beta = draws(g, 0, 1);
    assert.ok(
      alpha.sub(beta).abs().amin([0, 1, 2, 3]).item() > 1e-3,
      "α and β are different draws",
    );
    assertClose(
      y.detach(),
      alpha.mul(a.detach()).add(alpha.neg().add(1).mul(b.detach())),
      "forward",
      1e-12,
      1e-12,
    );
    assertClose(a.grad!, beta.mul(w), "∂/∂a = β·g", 1e-12, 1e-12);
    assertClose(b.grad!, beta.neg().add(1).mul(w), "∂/∂b = (1−β)·g", 1e-12, 1e-12);
  }));

test("Shake-Shake: one coefficient per sample, different across samples", () =>
  scope(() => {
    const { a, b } = leaves(2);
    const y = noGrad(() => shakeShake(a, b, { training: true }));
    // α = (y − b)/(a − b) elementwise must be constant within each sample.
    const alpha = y.sub(b).div(a.sub(b)).flatten(1);
    const spread = alpha.amax(1).sub(alpha.amin(1));
    assert.ok(spread.amax(0).item() < 1e-9, "α constant within a sample");
    const perSample = alpha.select(1, 0).toArray();
    assert.equal(new Set(perSample.map((v) => v.toFixed(9))).size, N, "α differs between samples");
    assert.ok(perSample.every((v) => v >= 0 && v < 1));
  }));

test("Shake-Shake at evaluation: 0.5·a + 0.5·b, gradient 0.5 to each", () =>
  scope(() => {
    const { a, b, w } = leaves(3);
    const y = shakeShake(a, b, { training: false });
    y.mul(w).sum().backward();
    assertClose(y.detach(), a.detach().add(b.detach()).mul(0.5), "forward", 1e-12, 1e-12);
    assertClose(a.grad!, w.mul(0.5), "∂/∂a", 1e-12, 1e-12);
    assertClose(b.grad!, w.mul(0.5), "∂/∂b", 1e-12, 1e-12);
  }));

test("ShakeDrop, gate closed (p = 1): forward α·x with α ∈ [−1, 1), gradient β·g with β ∈ [0, 1)", () =>
  scope(() => {
    const { a: x, w } = leaves(4);
    const y = shakeDrop(x, { training: true, p: 1, generator: new Generator(11) });
    y.mul(w).sum().backward();
    // Replay: the gate's Bernoulli draw, then α, then β.
    const g = new Generator(11);
    assert.equal(zeros([1], { dtype: "f64" }).bernoulli_(0, g).item(), 0);
    const alpha = draws(g, -1, 1);
    const beta = draws(g, 0, 1);
    assert.ok(alpha.amin([0, 1, 2, 3]).item() < 0 || alpha.amax([0, 1, 2, 3]).item() > 0);
    assertClose(y.detach(), alpha.mul(x.detach()), "forward α·x", 1e-12, 1e-12);
    assertClose(x.grad!, beta.mul(w), "gradient β·g", 1e-12, 1e-12);
  }));

test("ShakeDrop, gate open (p = 0): the input passes unchanged with gradient 1", () =>
  scope(() => {
    const { a: x, w } = leaves(5);
    const y = shakeDrop(x, { training: true, p: 0, generator: new Generator(1) });
    assert.equal(y, x, "returns its input");
    y.mul(w).sum().backward();
    assertClose(x.grad!, w, "gradient", 0, 0);
  }));

test("ShakeDrop's gate is one Bernoulli(1 − p) per batch, not per sample", () =>
  scope(() => {
    const g = new Generator(3);
    const x = randn([64, 2, 2, 2], { generator: g, dtype: "f64" });
    let kept = 0;
    const trials = 200;
    for (let i = 0; i < trials; i++) {
      scope(() => {
        const y = shakeDrop(x, { training: true, p: 0.3, generator: g });
        if (y === x) {
          kept++;
          return;
        }
        // Perturbed: every sample scaled by its own α, none left as is.
        const ratio = y.div(x).flatten(1);
        const unchanged = ratio.select(1, 0).sub(1).abs().lt(1e-12).sum().item();
        assert.equal(unchanged, 0, "a perturbed batch has no unperturbed sample");
        assert.ok(
          ratio.amax(1).sub(ratio.amin(1)).amax(0).item() < 1e-9,
          "α constant within a sample",
        );
      });
    }
    // Kept with probability 0.7: 140 ± 6.5 (σ); allow ±5σ.
    assert.ok(Math.abs(kept - 140) < 33, `gate kept ${kept} of ${trials} batches`);
  }));

test("ShakeDrop at evaluation: (1 − p)·x, gradient (1 − p)", () =>
  scope(() => {
    const { a: x, w } = leaves(6);
    const layer = new ShakeDrop(0.25);
    layer.eval();
    const y = layer.forward(x);
    y.mul(w).sum().backward();
    assertClose(y.detach(), x.detach().mul(0.75), "forward", 1e-12, 1e-12);
    assertClose(x.grad!, w.mul(0.75), "gradient", 1e-12, 1e-12);
    assert.throws(() => new ShakeDrop(1.5), /p must be in \[0, 1\]/);
  }));

test("networks: seeded generators make Shake-Shake and ShakeDrop training steps reproducible", () =>
  scope(() => {
    const x = randn([2, 3, 8, 8], { generator: new Generator(0) });
    for (const make of [
      () => new ShakeResNet({ depth: 8, width: 4, numClasses: 3 }),
      () => new PyramidNet({ depth: 11, alpha: 6, split: 1, numClasses: 3, finalShakeDrop: 1 }),
    ]) {
      const net = make();
      const run = (seed: number) =>
        scope(() => {
          net.zeroGrad();
          (net as ShakeResNet | PyramidNet).setGenerator(new Generator(seed));
          const out = net.forward(x);
          out.sum().backward();
          return [out.detach(), ...net.parameters().map((p) => p.grad!.clone())];
        });
      const first = run(5);
      const again = run(5);
      first.forEach((t, i) => assertClose(again[i], t, `tensor ${i}`, 0, 0));
      const other = run(6);
      assert.ok(
        other.some(
          (t, i) =>
            t
              .sub(first[i])
              .abs()
              .amax([...t.shape.keys()])
              .item() > 0,
        ),
        "another seed differs",
      );
      net.dispose();
    }
  }));
