// Tensor records: item sizes, element counts, and validation messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DTYPES,
  itemSize,
  makeRecord,
  numel,
  shapeProblem,
  validateRecord,
} from "../../src/io/index.js";

test("itemSize and numel", () => {
  assert.deepEqual(
    DTYPES.map((d) => [d, itemSize(d)]),
    [
      ["f64", 8],
      ["i64", 8],
      ["f32", 4],
      ["i32", 4],
      ["f16", 2],
      ["bf16", 2],
      ["i16", 2],
      ["i8", 1],
      ["u8", 1],
      ["bool", 1],
    ],
  );
  assert.equal(numel([]), 1);
  assert.equal(numel([2, 0, 3]), 0);
  assert.equal(numel([2, 3, 4]), 24);
});

test("validation names the tensor and the problem", () => {
  assert.equal(shapeProblem([1, 2]), null);
  assert.match(shapeProblem([1, -2]) ?? "", /invalid dimension -2/);
  assert.match(shapeProblem([1.5]) ?? "", /invalid dimension/);
  assert.match(shapeProblem("x") ?? "", /must be an array/);
  assert.doesNotThrow(() => makeRecord("f32", [], new Uint8Array(4)));
  assert.throws(
    () => validateRecord({ dtype: "f32", shape: [2], data: new Uint8Array(4) }, "w"),
    /w: f32\[2\] needs 8 bytes, data has 4/,
  );
  assert.throws(
    () => validateRecord({ dtype: "c64" as never, shape: [], data: new Uint8Array(8) }, "w"),
    /unknown dtype "c64"/,
  );
});
