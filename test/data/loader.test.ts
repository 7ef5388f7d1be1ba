// The multi-view loader: determinism across worker counts, shared mixup, resumption, shuffling.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MultiViewLoader, copyBatch, type Batch } from "../../src/data/loader.js";
import { loadCifar10Sample } from "../../src/data/sample.js";
import { presetAugmentation } from "../../src/data/transforms/pipeline.js";
import { DataError } from "../../src/data/errors.js";

const train = loadCifar10Sample("train");
const testSet = loadCifar10Sample("test");
const trainAug = presetAugmentation("cifar10", { train: true });

async function collect(
  loader: MultiViewLoader,
  epoch: number,
  start = 0,
  limit = Infinity,
): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch, { batchIndex: start })) {
    out.push(copyBatch(b));
    if (out.length >= limit) break;
  }
  return out;
}

function assertSameBatches(a: Batch[], b: Batch[]): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => {
    const y = b[i];
    assert.equal(x.index, y.index);
    assert.deepEqual(x.labels, y.labels);
    assert.deepEqual(x.mixup, y.mixup);
    x.views.forEach((v, s) =>
      assert.ok(
        Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(
          Buffer.from(y.views[s].buffer, y.views[s].byteOffset, y.views[s].byteLength),
        ),
        `batch ${i} view ${s} differs`,
      ),
    );
  });
}

test("0 and 4 workers give identical bytes (S=2, mixup on)", async () => {
  const opts = {
    dataset: train,
    augment: trainAug,
    batchSize: 100,
    views: 2,
    seed: 7,
    mixupAlpha: 0.2,
  };
  const l0 = new MultiViewLoader({ ...opts, workers: 0 });
  const l4 = new MultiViewLoader({ ...opts, workers: 4, prefetch: 3 });
  try {
    const a = await collect(l0, 3);
    const b = await collect(l4, 3);
    assert.equal(a.length, 20);
    assertSameBatches(a, b);
    // Structure: shape, two independent views, one λ/perm per batch.
    assert.deepEqual(a[0].shape, [100, 3, 32, 32]);
    assert.equal(a[0].views.length, 2);
    assert.notDeepEqual(a[0].views[0], a[0].views[1]);
    assert.ok(a[0].mixup && a[0].mixup.perm.length === 100);
  } finally {
    await l0.close();
    await l4.close();
  }
});

test("mixup mixes every view with the same λ and partner", async () => {
  const base = { dataset: train, augment: trainAug, batchSize: 50, views: 3, seed: 3 };
  const plain = new MultiViewLoader(base);
  const mixed = new MultiViewLoader({ ...base, mixupAlpha: 0.2 });
  const [p] = await collect(plain, 0, 0, 1);
  const [m] = await collect(mixed, 0, 0, 1);
  const mix = m.mixup;
  assert.ok(mix);
  const per = 3 * 32 * 32;
  for (let v = 0; v < 3; v++) {
    const expect = new Float32Array(p.views[v].length);
    for (let i = 0; i < 50; i++) {
      for (let k = 0; k < per; k++)
        expect[i * per + k] =
          mix.lambda * p.views[v][i * per + k] +
          (1 - mix.lambda) * p.views[v][mix.perm[i] * per + k];
    }
    assert.deepEqual(m.views[v], expect);
  }
  assert.deepEqual(m.labels, p.labels); // labels stay the originals; the loss uses mixup.perm
});

test("resume from {epoch, batchIndex} reproduces the following batches", async () => {
  const loader = new MultiViewLoader({
    dataset: train,
    augment: trainAug,
    batchSize: 128,
    views: 2,
    seed: 11,
    workers: 2,
  });
  try {
    const full = await collect(loader, 5);
    const resumed = await collect(loader, 5, 9);
    assertSameBatches(full.slice(9), resumed);
    assert.equal(loader.batchesPerEpoch(), 15); // 2000 / 128, drop-last
    await assert.rejects(collect(loader, 5, 16), /resume batchIndex 16 outside 0\.\.15/);
  } finally {
    await loader.close();
  }
});

test("shuffle differs per epoch and covers every image once; eval keeps order and the last partial batch", async () => {
  const loader = new MultiViewLoader({
    dataset: train,
    augment: trainAug,
    batchSize: 500,
    seed: 1,
  });
  const o1 = loader.epochOrder(1);
  const o2 = loader.epochOrder(2);
  assert.notDeepEqual(o1, o2);
  assert.deepEqual(
    [...o1].sort((a, b) => a - b),
    Array.from({ length: 2000 }, (_, i) => i),
  );
  const evalLoader = new MultiViewLoader({
    dataset: testSet,
    augment: presetAugmentation("cifar10", { train: false }),
    batchSize: 300,
    shuffle: false,
    seed: 0,
  });
  const batches = await collect(evalLoader, 0);
  assert.deepEqual(
    batches.map((b) => b.shape[0]),
    [300, 300, 300, 100],
  );
  assert.deepEqual(batches[3].labels, testSet.labels.subarray(900));
  assert.equal(batches[0].views.length, 1);
});

test("breaking out early and closing leaves no busy workers; misuse gives clear errors", async () => {
  const loader = new MultiViewLoader({
    dataset: train,
    augment: trainAug,
    batchSize: 64,
    views: 2,
    seed: 2,
    workers: 2,
    prefetch: 4,
  });
  for await (const b of loader.epoch(0)) {
    if (b.index === 2) break;
  }
  // A second epoch after an early exit still works and starts where asked.
  const again = await collect(loader, 0, 0, 3);
  assert.deepEqual(
    again.map((b) => b.index),
    [0, 1, 2],
  );
  await loader.close();
  await loader.close();
  await assert.rejects(collect(loader, 1), /loader is closed/);
  assert.throws(
    () => new MultiViewLoader({ dataset: train, augment: trainAug, batchSize: 0, seed: 1 }),
    (e: unknown) => e instanceof DataError && /batchSize/.test(e.message),
  );
  assert.throws(
    () => new MultiViewLoader({ dataset: train, augment: trainAug, batchSize: 4000, seed: 1 }),
    /fewer than one batch/,
  );
});

test("a loader that is never closed does not keep the process alive", async () => {
  const { spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const loaderUrl = new URL("../../src/data/loader.js", import.meta.url).href;
  const sampleUrl = new URL("../../src/data/sample.js", import.meta.url).href;
  const pipeUrl = new URL("../../src/data/transforms/pipeline.js", import.meta.url).href;
  const script = `
    const { MultiViewLoader } = await import(${JSON.stringify(loaderUrl)});
    const { loadCifar10Sample } = await import(${JSON.stringify(sampleUrl)});
    const { presetAugmentation } = await import(${JSON.stringify(pipeUrl)});
    const l = new MultiViewLoader({ dataset: loadCifar10Sample("train"), augment: presetAugmentation("cifar10", { train: true }), batchSize: 32, views: 2, seed: 1, workers: 2 });
    for await (const b of l.epoch(0)) { if (b.index === 1) break; }
    console.log("done");`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    timeout: 30000,
    encoding: "utf8",
    cwd: fileURLToPath(new URL(".", import.meta.url)),
  });
  assert.equal(r.error, undefined, "child hung (killed by timeout)");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done/);
});
