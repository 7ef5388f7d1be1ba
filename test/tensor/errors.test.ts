// Bad input gives a clear JavaScript error, never a crash.
import { test } from "node:test";
import assert from "node:assert/strict";
import { tensor, zeros, randn, scope, anyOp, native } from "../../src/tensor/index.js";
import { opTable, type OpSpec } from "../../src/tensor/ops.js";
import { F } from "../../src/nn/index.js";

test("a libtorch error names the operator and every tensor argument", () =>
  scope(() => {
    assert.throws(
      () => F.conv2d(randn([2, 3, 8, 8]), randn([4, 5, 3, 3])),
      (e: Error) =>
        /aten::conv2d\(input=f32\[2,3,8,8\] cpu, weight=f32\[4,5,3,3\] cpu/.test(e.message) &&
        /channels/.test(e.message),
    );
    assert.throws(
      () => zeros([2, 3]).matmul(zeros([4, 5])),
      /aten::matmul.*f32\[2,3\].*f32\[4,5\]/,
    );
  }));

test("using a disposed tensor is a clear error", () => {
  const t = zeros([3]);
  t.dispose();
  t.dispose(); // idempotent
  assert.throws(() => t.add(1), /disposed/);
  const live = zeros([3]);
  assert.throws(() => live.add(t), /disposed/);
  live.dispose();
});

test("mixing dtypes where ATen refuses is an error; where ATen promotes, it promotes", () =>
  scope(() => {
    assert.equal(tensor([1, 2], { dtype: "i64" }).add(tensor([0.5, 0.5])).dtype, "f32");
    assert.throws(
      () => F.conv2d(randn([1, 1, 4, 4]).to("f64"), randn([1, 1, 3, 3])),
      /aten::conv2d/,
    );
  }));

test("wrong argument types name the argument and the schema type", () =>
  scope(() => {
    const add = anyOp("add.Tensor");
    assert.throws(
      () => native.call(add, zeros([1]).handle, "nope"),
      /argument `other` must be a tensor/,
    );
    assert.throws(
      () => native.call(anyOp("sum.dim_IntList"), zeros([2]).handle, [0.5]),
      /must be an integer/,
    );
    assert.throws(() => native.call(add), /missing argument `self`/);
    assert.throws(() => anyOp("no_such_op"), /no operator aten::no_such_op/);
    assert.throws(() => zeros([-1]), /not a non-negative integer/);
    assert.throws(
      () => tensor(new Float32Array(5), { shape: [2, 2] }),
      /20 bytes given for f32\[2,2\]/,
    );
  }));

test("backward on a non-scalar without a gradient explains what to pass", () =>
  scope(() => {
    const w = randn([3]).requiresGrad_();
    assert.throws(() => w.mul(2).backward(), /not a scalar/);
    assert.throws(() => zeros([1]).sum().backward(), /does not require grad/);
  }));

test("an operator the linked libtorch lacks fails where it is used, with its name, not at load", () => {
  const table = opTable({ add: "add.Tensor", missing: "no_such_operator" as OpSpec });
  assert.equal(typeof table.add, "number", "present operators resolve at once");
  assert.throws(() => table.missing, /the linked libtorch has no operator aten::no_such_operator/);
});
