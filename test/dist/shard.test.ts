// Data-parallel shards of the loader: each rank's part of a batch is a contiguous slice of the
// global batch, with bit-identical views (views are keyed by image, not by position), the shards
// of a batch together are the batch, and a member-parallel rank's one view is the same as the
// single process's view of its member. Any worker count gives the same bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MultiViewLoader, copyBatch, type Batch } from "../../src/data/loader.js";
import { loadCifar10Sample } from "../../src/data/sample.js";
import { presetAugmentation } from "../../src/data/transforms/pipeline.js";
import { DataError } from "../../src/data/errors.js";

const train = loadCifar10Sample("train");
const testSet = loadCifar10Sample("test");
const trainAug = presetAugmentation("cifar10", { train: true });
const base = { dataset: train, augment: trainAug, batchSize: 48, views: 2, seed: 5 };

async function batches(loader: MultiViewLoader, epoch = 1): Promise<Batch[]> {
  const out: Batch[] = [];
  try {
    for await (const b of loader.epoch(epoch)) out.push(copyBatch(b));
  } finally {
    await loader.close();
  }
  return out;
}

const floats = (b: Batch) => 3 * b.shape[2] * b.shape[3];

test("the shards of every batch are its contiguous slices, with the same views, on any worker count", async () => {
  const whole = await batches(new MultiViewLoader(base));
  for (const count of [2, 3]) {
    const shards = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        batches(
          new MultiViewLoader({ ...base, shard: { index, count }, workers: index % 2 ? 2 : 0 }),
        ),
      ),
    );
    for (const s of shards) assert.equal(s.length, whole.length, "every rank takes the same steps");
    whole.forEach((b, i) => {
      const n = b.labels.length / count;
      shards.forEach((s, index) => {
        const part = s[i];
        assert.equal(part.index, b.index);
        assert.deepEqual(part.shape, [n, 3, 32, 32]);
        assert.deepEqual(part.labels, b.labels.slice(index * n, (index + 1) * n));
        part.views.forEach((v, view) =>
          assert.deepEqual(
            v,
            b.views[view].slice(index * n * floats(b), (index + 1) * n * floats(b)),
          ),
        );
      });
    });
  }
});

test("an evaluation batch that does not divide: near-equal parts, an empty one skipped", async () => {
  const evalOpts = {
    dataset: testSet,
    augment: presetAugmentation("cifar10", { train: false }),
    batchSize: 3,
    shuffle: false,
    seed: 0,
  };
  const whole = await batches(new MultiViewLoader(evalOpts));
  const parts = await Promise.all(
    [0, 1].map((index) =>
      batches(new MultiViewLoader({ ...evalOpts, shard: { index, count: 2 } })),
    ),
  );
  const labels = (bs: Batch[]) => bs.flatMap((b) => [...b.labels]);
  assert.deepEqual([...labels(parts[0]), ...labels(parts[1])].sort(), labels(whole).sort());
  assert.deepEqual(
    parts[0].slice(0, 2).map((b) => b.labels.length),
    [1, 1],
  );
  assert.deepEqual(
    parts[1].slice(0, 2).map((b) => b.labels.length),
    [2, 2],
  );
  const one = await batches(
    new MultiViewLoader({ ...evalOpts, batchSize: 1, shard: { index: 0, count: 2 } }),
  );
  assert.equal(one.length, 0, "a one-image batch leaves shard 0 of 2 empty: nothing is yielded");
});

test("a member-parallel rank's view is the single process's view of its member", async () => {
  const whole = await batches(new MultiViewLoader(base));
  const mine = await batches(new MultiViewLoader({ ...base, views: 1, firstView: 1 }));
  whole.forEach((b, i) => {
    assert.equal(mine[i].views.length, 1);
    assert.deepEqual(mine[i].views[0], b.views[1]);
  });
});

test("a training batch that does not divide among the ranks is refused, naming the fix", () => {
  assert.throws(
    () => new MultiViewLoader({ ...base, batchSize: 50, shard: { index: 0, count: 4 } }),
    (e: Error) =>
      e instanceof DataError &&
      /batch size 50 does not divide into 4 equal shards .* a multiple of 4/.test(e.message),
  );
  assert.throws(
    () => new MultiViewLoader({ ...base, shard: { index: 2, count: 2 } }),
    /shard must be \{index, count\} with 0 ≤ index < count/,
  );
});
