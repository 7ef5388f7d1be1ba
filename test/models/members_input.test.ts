// The divided model's input check (Members.forwardEach): one shape check per forward, before
// any layer, so a 0×0 image gets a message naming the expected N×3×H×W instead of
// aten::conv2d's (issue #10 item 6); an input so small that it shrinks to nothing inside the
// network keeps the operator's message with the size the model is built for in front of it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "../../src/models/registry.js";
import { zeros } from "../../src/tensor/creation.js";
import "../../src/models/index.js";

test("an empty or mis-shaped input is refused before the first convolution", () => {
  const m = create("resnet29", { split: 2, dataset: "cifar10" });
  try {
    m.eval();
    for (const shape of [
      [1, 3, 0, 0],
      [2, 3, 32, 0],
      [3, 32, 32],
      [1, 4, 32, 32],
    ]) {
      using x = zeros(shape);
      assert.throws(
        () => m.forwardEach(x),
        (e: Error) =>
          e instanceof RangeError &&
          e.message ===
            `resnet29: input of shape [${shape.join(", ")}]; expected images N×3×H×W with H and W at least 1 (the model is built for 32×32)` &&
          !/aten::/.test(e.message),
        `shape [${shape}]`,
      );
    }
    // Each view of a training step is checked too.
    using good = zeros([1, 3, 8, 8]);
    using empty = zeros([1, 3, 0, 0]);
    assert.throws(() => m.forwardEach([good, empty]), /input of shape \[1, 3, 0, 0\]/);
    // 1×1 still runs through this network (global average pooling at the end).
    using tiny = zeros([1, 3, 1, 1]);
    const outs = m.forwardEach(tiny);
    assert.deepEqual(
      outs.map((o) => o.shape),
      [
        [1, 10],
        [1, 10],
      ],
    );
    for (const o of outs) o.dispose();
  } finally {
    m.dispose();
  }
});

test("an input that shrinks to nothing inside the network: the operator's message, with the model's size", () => {
  const m = create("densenet190", { split: 16, dataset: "cifar10" });
  try {
    m.eval();
    using x = zeros([1, 3, 2, 2]);
    assert.throws(
      () => m.forwardEach(x),
      (e: Error) =>
        e.message.startsWith(
          "densenet190: the forward pass failed on a 2×2 input, smaller than the 32×32 images the model is built for",
        ) && /aten::avg_pool2d/.test(e.message),
    );
  } finally {
    m.dispose();
  }
});
