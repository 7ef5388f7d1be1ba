// Creating tensors, dtypes, data in and out, views and shape operations.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  tensor,
  zeros,
  ones,
  full,
  arange,
  empty,
  rand,
  randn,
  randint,
  bernoulli,
  cat,
  stack,
  scope,
  Generator,
  manualSeed,
  type DType,
} from "../../src/tensor/index.js";
import { fixture, get, assertClose } from "../helpers/engine.js";

test("constants have the requested shape, dtype and values", () =>
  scope(() => {
    assert.deepEqual(zeros([2, 3]).toArray(), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ones([2], { dtype: "i32" }).toArray(), [1, 1]);
    assert.equal(ones([2], { dtype: "i32" }).dtype, "i32");
    assert.deepEqual(full([3], 2.5).toArray(), [2.5, 2.5, 2.5]);
    assert.deepEqual(empty([4, 5]).shape, [4, 5]);
    assert.deepEqual(arange(4).toArray(), [0, 1, 2, 3]);
    assert.equal(arange(4).dtype, "i64");
    assert.deepEqual(arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
  }));

test("every dtype round-trips through TypedArrays", () =>
  scope(() => {
    const dtypes: DType[] = ["f32", "f64", "i64", "i32", "i16", "i8", "u8", "bool"];
    for (const d of dtypes) {
      const t = tensor([1, 0, 3], { dtype: d });
      assert.equal(t.dtype, d);
      assert.deepEqual(t.toArray(), d === "bool" ? [1, 0, 1] : [1, 0, 3], d);
    }
    for (const d of ["f16", "bf16"] as DType[]) {
      const t = tensor([1.5, -2, 0.25]).to(d);
      assert.equal(t.dtype, d);
      assert.deepEqual(t.toArray(), [1.5, -2, 0.25], d);
    }
    const shared = new Float32Array(new SharedArrayBuffer(16));
    shared.set([1, 2, 3, 4]);
    assert.deepEqual(
      tensor(shared.subarray(1)).toArray(),
      [2, 3, 4],
      "views of a SharedArrayBuffer (loader buffers)",
    );
    const typed = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    assert.deepEqual(typed.shape, [2, 3]);
    assert.deepEqual(
      tensor([
        [1, 2],
        [3, 4],
      ]).shape,
      [2, 2],
    );
  }));

test("bufferView exposes the tensor's memory without a copy", () =>
  scope(() => {
    const t = zeros([4]);
    const view = new Float32Array(t.bufferView());
    view[2] = 7;
    assert.deepEqual(t.toArray(), [0, 0, 7, 0]);
    assert.throws(() => zeros([2, 3]).T.bufferView(), /not contiguous/);
  }));

test("views and shape operations", () =>
  scope(() => {
    const t = arange(24, undefined, 1, { dtype: "f32" }).reshape(2, 3, 4);
    assert.deepEqual(t.permute(2, 0, 1).shape, [4, 2, 3]);
    assert.deepEqual(t.transpose(0, 2).shape, [4, 3, 2]);
    assert.deepEqual(t.narrow(2, 1, 2).shape, [2, 3, 2]);
    assert.deepEqual(t.slice(2, 0, undefined, 2).toArray().slice(0, 4), [0, 2, 4, 6]);
    assert.deepEqual(
      t.chunk(3, 1).map((c) => c.shape),
      [
        [2, 1, 4],
        [2, 1, 4],
        [2, 1, 4],
      ],
    );
    assert.deepEqual(
      t.split([1, 3], 2).map((c) => c.shape),
      [
        [2, 3, 1],
        [2, 3, 3],
      ],
    );
    assert.deepEqual(cat([t, t], 0).shape, [4, 3, 4]);
    assert.deepEqual(stack([t, t], 1).shape, [2, 2, 3, 4]);
    assert.deepEqual(t.flatten(1).shape, [2, 12]);
    assert.deepEqual(t.unsqueeze(0).squeeze(0).shape, [2, 3, 4]);
    assert.deepEqual(ones([1, 3]).expand(4, 3).shape, [4, 3]);
    const cl = randn([2, 3, 4, 5]).contiguous("channelsLast");
    assert.ok(cl.isContiguous("channelsLast"));
    assert.ok(!cl.isContiguous());
    assert.deepEqual(cl.strides, [60, 1, 15, 3]);
  }));

test("reductions and indexing", () =>
  scope(() => {
    const t = tensor([
      [1, 5, 3],
      [7, 2, 9],
    ]);
    assert.equal(t.sum().item(), 27);
    assert.deepEqual(t.sum(0).toArray(), [8, 7, 12]);
    assert.deepEqual(t.mean(1, true).shape, [2, 1]);
    const [v, i] = t.max(1);
    assert.deepEqual(
      [v.toArray(), i.toArray()],
      [
        [5, 9],
        [1, 2],
      ],
    );
    assert.deepEqual(t.argmax(1).toArray(), [1, 2]);
    assert.deepEqual(t.indexSelect(1, tensor([2, 0], { dtype: "i64" })).toArray(), [3, 1, 9, 7]);
    assert.deepEqual(t.maskedFill(t.gt(4), 0).toArray(), [1, 0, 3, 0, 2, 0]);
    assert.deepEqual(t.index([tensor([1, 0], { dtype: "i64" })]).toArray(), [7, 2, 9, 1, 5, 3]);
  }));

test("seeded draws equal PyTorch's for the same seed (fixtures/engine/random)", () =>
  scope(() => {
    const fx = fixture("random");
    manualSeed(42);
    assertClose(randn([6]), get(fx, "manual_randn"), "randn after manualSeed", 0, 0);
    assertClose(rand([6]), get(fx, "manual_rand"), "rand after manualSeed", 0, 0);
    const g = new Generator(7);
    assertClose(
      randn([2, 3], { generator: g }),
      get(fx, "gen_randn"),
      "randn with a generator",
      0,
      0,
    );
    assertClose(
      randint(0, 10, [8], { generator: g }),
      get(fx, "gen_randint"),
      "randint with a generator",
      0,
      0,
    );
  }));

test("generators are independent and their state restores a sequence exactly", () =>
  scope(() => {
    const g = new Generator(1);
    const state = g.getState();
    const a = rand([5], { generator: g }).toArray();
    g.setState(state);
    assert.deepEqual(rand([5], { generator: g }).toArray(), a);
    const b = bernoulli(zeros([1000]), 0.3, new Generator(2))
      .mean()
      .item();
    assert.ok(b > 0.25 && b < 0.35, `bernoulli(0.3) mean ${b}`);
  }));
