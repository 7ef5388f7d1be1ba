// The bridge between engine tensors and io records: one dtype table (src/tensor/dtype.ts)
// gives both sides the same names and item sizes, so every dtype crosses unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DTYPES,
  encodeSafetensors,
  itemSize,
  loadTensors,
  readSafetensors,
  recordToTensor,
  tensorToRecord,
} from "../../src/io/index.js";
import { DTYPE_INFO } from "../../src/tensor/dtype.js";
import { scope, tensor } from "../../src/tensor/index.js";
import { hex } from "./helpers.js";

test("every dtype crosses tensor → record → safetensors → tensor with its bytes intact", () =>
  scope(() => {
    for (const d of DTYPES) {
      const t = tensor([1, 0, 3, 2, 1, 0], { dtype: "f32", shape: [2, 3] }).to(d);
      const rec = tensorToRecord(t);
      assert.equal(rec.dtype, d);
      assert.deepEqual(rec.shape, [2, 3]);
      assert.equal(rec.data.byteLength, 6 * itemSize(d), `${d}: bytes per element`);
      assert.ok(t.toTypedArray() instanceof DTYPE_INFO[d].array, `${d}: TypedArray`);

      const file = encodeSafetensors({ t: rec });
      const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString());
      assert.equal(header.t.dtype, DTYPE_INFO[d].safetensors, `${d}: safetensors name`);

      const back = loadTensors(file).tensors.get("t")!;
      assert.equal(back.dtype, d);
      assert.deepEqual(back.toArray(), t.toArray(), `${d}: values`);
      assert.equal(hex(tensorToRecord(back).data), hex(rec.data), `${d}: bytes`);
      const viaRecord = recordToTensor(readSafetensors(file).tensors.get("t")!);
      assert.equal(viaRecord.dtype, d);
    }
  }));
