// DropBlock (src/nn/layers/dropblock.ts): equal to the reference's own layer for the same seeds
// (test/fixtures/models_c/dropblock.safetensors, written by
// scripts/fixtures/models_c/make_fixtures.py from the official `model/layers/drop.py`), and its
// defining properties on seeded draws: dropped regions are unions of k×k blocks, about a
// fraction p is dropped, what is kept is rescaled by numel/kept, the mask carries no gradient,
// evaluation is the identity.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { loadTensors } from "../../src/io/tensors.js";
import { DropBlock2d, dropBlock2d, dropBlockGamma } from "../../src/nn/index.js";
import { Generator, manualSeed, ones, randn, scope } from "../../src/tensor/index.js";
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

interface Case {
  shape: number[];
  p: number;
  block: number;
  seed: number;
}

test("DropBlock equals the reference's layer for the same seed (training mode)", () =>
  scope(() => {
    const { tensors, metadata } = loadTensors(join(FIXTURES, "dropblock.safetensors"));
    const cases = JSON.parse(String(metadata.cases)) as Case[];
    assert.equal(cases.length, 4);
    cases.forEach((c, i) => {
      const layer = new DropBlock2d(c.p, { blockSize: c.block });
      const x = hashedTensor("input", c.shape);
      manualSeed(c.seed);
      const y = layer.forward(x);
      assertClose(y, tensors.get(`out${i}`)!, `case ${i} ${JSON.stringify(c)}`, 1e-6, 1e-6);
      assert.ok(y.eq(0).any().item(), `case ${i}: something is dropped`);
    });
  }));

/** Dropped (1) / kept (0) per element of a 4-D tensor, as nested [n][c] planes of H×W. */
function droppedPlanes(y: number[], shape: number[]): number[][][] {
  const [n, c, h, w] = shape;
  const planes: number[][][] = [];
  for (let p = 0; p < n * c; p++) {
    const plane: number[][] = [];
    for (let i = 0; i < h; i++)
      plane.push(y.slice((p * h + i) * w, (p * h + i + 1) * w).map((v) => (v === 0 ? 1 : 0)));
    planes.push(plane);
  }
  return planes;
}

/**
 * Max (dilation) or min (erosion) over the window rows i−a … i+b, columns j−a … j+b, clipped to
 * the plane. The mask's block around a seed is that window with a = ⌊k/2⌋, b = k−1−a; the
 * erosion that undoes it (its adjoint) uses the reflected window (a and b swapped).
 */
function windowed(plane: number[][], a: number, b: number, op: "max" | "min"): number[][] {
  const h = plane.length;
  const w = plane[0].length;
  return plane.map((row, i) =>
    row.map((_, j) => {
      let v = op === "max" ? 0 : 1;
      for (let r = Math.max(0, i - a); r <= Math.min(h - 1, i + b); r++)
        for (let s = Math.max(0, j - a); s <= Math.min(w - 1, j + b); s++)
          v = op === "max" ? Math.max(v, plane[r][s]) : Math.min(v, plane[r][s]);
      return v;
    }),
  );
}

test("DropBlock drops whole k×k blocks (odd and even k), rescales the rest by numel/kept", () =>
  scope(() => {
    const g = new Generator(7);
    for (const [shape, block] of [
      [[2, 3, 16, 16], 3],
      [[2, 3, 15, 17], 5],
      [[2, 3, 16, 13], 2],
      [[1, 2, 14, 14], 4],
    ] as [number[], number][]) {
      const x = ones(shape);
      const y = dropBlock2d(x, 0.15, { blockSize: block, generator: g });
      assert.deepEqual(y.shape, shape, `block ${block}: the output keeps the input's shape`);
      const values = y.toArray();
      const kept = values.filter((v) => v !== 0);
      assert.ok(
        kept.length > 0 && kept.length < values.length,
        `block ${block}: some kept, some dropped`,
      );
      // Every kept element carries the same scale numel / (kept + 1e-7), in f32.
      const scale = Math.fround(values.length / Math.fround(kept.length + 1e-7));
      for (const v of kept)
        assert.ok(Math.abs(v - scale) <= 1e-6 * scale, `block ${block}: ${v} vs ${scale}`);
      // Opening = the set itself: every dropped element lies in a fully dropped k×k window.
      const a = Math.floor(block / 2);
      const b = block - 1 - a;
      for (const plane of droppedPlanes(values, shape)) {
        const opened = windowed(windowed(plane, b, a, "min"), a, b, "max");
        assert.deepEqual(
          opened,
          plane,
          `block ${block}: dropped regions are unions of ${block}×${block} blocks`,
        );
      }
    }
  }));

test("DropBlock drops about a fraction p; γ follows the reference's formula", () =>
  scope(() => {
    // γ = p·H·W / k² / ((W−k+1)(H−k+1)): se_resnet50_B's stage 3 at 224 (14×14, k = 3, S = 1).
    assert.equal(dropBlockGamma(0.1, 14, 14, 3), (0.1 * 196) / 9 / 144);
    // A block larger than the map is clipped to it (k = 2 on 2×2): γ = p·4/4/1.
    assert.equal(dropBlockGamma(0.3, 2, 2, 3), 0.3);
    const g = new Generator(11);
    for (const p of [0.05, 0.1, 0.2]) {
      const y = dropBlock2d(ones([8, 16, 32, 32]), p, { blockSize: 3, generator: g });
      const dropped = y.eq(0).float().mean().item();
      assert.ok(Math.abs(dropped - p) < 0.02, `p=${p}: dropped ${dropped.toFixed(4)}`);
    }
  }));

test("DropBlock: the mask carries no gradient; evaluation and p = 0 are the identity", () =>
  scope(() => {
    const x = ones([2, 3, 9, 9]).requiresGrad_();
    const y = dropBlock2d(x, 0.2, { blockSize: 3, generator: new Generator(3) });
    y.sum().backward();
    // ∂Σy/∂x = keep · scale = y itself (x is all ones).
    assertClose(x.grad!, y.detach(), "gradient", 0, 0);

    const layer = new DropBlock2d(0.2, { blockSize: 3 });
    const z = randn([2, 3, 9, 9]);
    layer.eval();
    assert.equal(layer.forward(z), z, "evaluation returns its input");
    const off = new DropBlock2d(0, { blockSize: 3 });
    assert.equal(off.forward(z), z, "p = 0 returns its input");
    // A map smaller than the block: clipped, finite.
    layer.train();
    const small = layer.forward(randn([2, 3, 2, 2]));
    assert.ok(small.isfinite().all().item());
  }));

test("DropBlock rejects a probability outside [0, 1), a block size below 1, and non-4-D input", () => {
  assert.throws(() => new DropBlock2d(1, { blockSize: 3 }), /p must be in \[0, 1\), got 1/);
  assert.throws(
    () => new DropBlock2d(0.1, { blockSize: 0 }),
    /block size must be a positive integer, got 0/,
  );
  scope(() => {
    assert.throws(
      () => dropBlock2d(ones([3, 4, 4]), 0.1, { blockSize: 3 }),
      /expected an N×C×H×W tensor, got shape \[3,4,4\]/,
    );
  });
});
