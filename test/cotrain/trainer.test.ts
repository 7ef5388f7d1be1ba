// The trainer end to end on the embedded sample: run directory contents, bit-exact resume after
// an interruption, and the errors that protect a user's runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { train, NonFiniteLossError } from "../../src/cotrain/trainer.js";
import { ConfigError, DEFAULTS } from "../../src/cotrain/config.js";
import { readScalars } from "../../src/report/tensorboard.js";
import { readMetrics } from "../../src/report/metrics_log.js";
import { loadTensors } from "../../src/io/tensors.js";
import "../../src/models/index.js";

const tmp = () => mkdtempSync(join(tmpdir(), "divco-train-"));
// Tiny but real: resnet29 with S=2 members on 96 sample images, 3 batches per epoch.
const base = {
  arch: "resnet29",
  split: 2,
  data: "sample",
  trainLimit: 96,
  evalLimit: 50,
  batchSize: 32,
  evalBatchSize: 50,
  epochs: 2,
  warmupEpochs: 1,
  cotWarmupEpochs: 1,
  workers: 0,
  keepLast: 1,
  seed: 3,
};

function modelTensors(runDir: string): Map<string, number[]> {
  const { tensors } = loadTensors(join(runDir, "checkpoints", "last.safetensors"));
  const out = new Map<string, number[]>();
  for (const [k, t] of tensors) {
    if (k.startsWith("model.")) out.set(k, t.toArray());
    t.dispose();
  }
  return out;
}

test("a run directory holds the resolved config, metrics, TensorBoard events and checkpoints", async () => {
  const runDir = join(tmp(), "run");
  const r = await train({ ...base, runDir }, { progress: "quiet" });
  assert.equal(r.status, "completed");
  assert.equal(r.epochs.length, 2);
  const cfg = JSON.parse(readFileSync(join(runDir, "config.json"), "utf8"));
  for (const k of Object.keys(DEFAULTS)) assert.ok(k in cfg, `config.json has ${k}`);
  assert.equal(
    cfg.weightDecay,
    1e-4,
    "the CIFAR preset's weight decay for resnet29 is written out",
  );
  const rows = readMetrics(runDir);
  assert.deepEqual(
    rows.map((m) => m.epoch),
    [1, 2],
  );
  for (const key of [
    "val_acc1",
    "val_acc5",
    "val_acc1_member0",
    "val_acc1_member1",
    "lr",
    "cot_weight",
    "train_loss",
  ]) {
    assert.equal(typeof rows[1][key], "number", key);
  }
  assert.equal(rows[0].cot_weight, 0.005, "epoch 0 of a 1-epoch warm-up: the 0.005 floor");
  assert.equal(rows[1].cot_weight, 0.5);
  assert.ok(readFileSync(join(runDir, "metrics.csv"), "utf8").startsWith("epoch,"));
  const scalars = readScalars(join(runDir, "tensorboard"));
  assert.deepEqual(
    scalars.val_acc1.map((p) => p.step),
    [1, 2],
  );
  const ck = readdirSync(join(runDir, "checkpoints")).sort();
  assert.ok(
    ck.includes("last.safetensors") &&
      ck.includes("best.safetensors") &&
      ck.includes("epoch-0002.json"),
  );
  assert.ok(!ck.includes("epoch-0001.json"), "keepLast 1 removed the older epoch");
  const last = JSON.parse(readFileSync(join(runDir, "checkpoints", "last.json"), "utf8"));
  assert.equal(last.epoch, 2);
  assert.equal(last.step, 6);
});

test("an interrupted and resumed run ends bit-exactly where an uninterrupted one does", async () => {
  const dir = tmp();
  const straight = join(dir, "straight");
  await train({ ...base, runDir: straight }, { progress: "quiet" });

  const resumed = join(dir, "resumed");
  const stop = new AbortController();
  const first = await train(
    { ...base, runDir: resumed },
    {
      progress: "quiet",
      signal: stop.signal,
      callbacks: { onStep: (s) => s.epoch === 0 && s.batchIndex === 1 && stop.abort() },
    },
  );
  assert.equal(first.status, "interrupted");
  assert.deepEqual(first.position, { epoch: 0, batchIndex: 2, step: 2 });
  const before = JSON.parse(readFileSync(join(resumed, "checkpoints", "last.json"), "utf8"))
    .partialEpoch.seconds;
  assert.ok(before > 0, "the interrupted epoch's training time is saved with it");
  const second = await train({ runDir: resumed }, { resume: true, progress: "quiet" });
  assert.equal(second.status, "completed");

  const a = modelTensors(straight);
  const b = modelTensors(resumed);
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, `${k} differs after resume`);
  assert.deepEqual(
    readMetrics(resumed).map((m) => [m.epoch, m.val_acc1, m.train_loss]),
    readMetrics(straight).map((m) => [m.epoch, m.val_acc1, m.train_loss]),
  );
  assert.ok(
    Number(readMetrics(resumed)[0].epoch_seconds) > before,
    "the resumed epoch's seconds include the time before the interruption",
  );
});

test("a run with concurrent members trains the same model as the sequential run", async () => {
  // One intra-op thread: the single worker runs exactly the sequential path's kernels.
  const dir = tmp();
  const cfg = { ...base, epochs: 1, warmupEpochs: 0, threads: 1 };
  await train({ ...cfg, runDir: join(dir, "seq") }, { progress: "quiet" });
  const r = await train(
    { ...cfg, concurrentMembers: true, runDir: join(dir, "conc") },
    { progress: "quiet" },
  );
  assert.equal(r.status, "completed");
  const a = modelTensors(join(dir, "seq"));
  for (const [k, v] of modelTensors(join(dir, "conc"))) assert.deepEqual(v, a.get(k), `${k}`);
  await assert.rejects(
    train(
      { ...cfg, split: 1, concurrentMembers: true, runDir: join(dir, "s1") },
      { progress: "quiet" },
    ),
    /nothing to run concurrently/,
  );
  const shake = join(dir, "shake");
  await assert.rejects(
    train(
      { ...cfg, arch: "shake_resnet26_2x32d", concurrentMembers: true, runDir: shake },
      { progress: "quiet" },
    ),
    (e: Error) => e instanceof ConfigError && /draws random numbers in its forward/.test(e.message),
  );
  assert.ok(!existsSync(shake), "refused before the run directory was made");
});

test("runs are protected: existing directories, unknown keys, changed configs, S not allowed", async () => {
  const runDir = join(tmp(), "run");
  await train({ ...base, epochs: 1, warmupEpochs: 0, runDir }, { progress: "quiet" });
  await assert.rejects(
    train({ ...base, runDir }, { progress: "quiet" }),
    (e: Error) => e instanceof ConfigError && /already exists.*--resume/.test(e.message),
  );
  await assert.rejects(
    train({ ...base, runDir: join(tmp(), "x"), learningRate: 0.1 } as never, { progress: "quiet" }),
    /unknown config key: learningRate/,
  );
  await assert.rejects(
    train({ runDir, lr: 0.2 }, { resume: true, progress: "quiet" }),
    (e: Error) => /different configuration/.test(e.message) && /lr: 0.1 → 0.2/.test(e.message),
  );
  const rejected = join(tmp(), "y");
  await assert.rejects(
    train({ ...base, split: 3, runDir: rejected }, { progress: "quiet" }),
    /cannot be divided into S=3; allowed: 1, 2, 4/,
  );
  assert.ok(!existsSync(rejected), "a rejected start leaves no run directory behind");
  await assert.rejects(
    train({ ...base, amp: true, runDir: join(tmp(), "a") }, { progress: "quiet" }),
    /needs a CUDA device/,
  );
  await assert.rejects(
    train({ ...base, warmupEpochs: 5, runDir: join(tmp(), "z") }, { progress: "quiet" }),
    /warmupEpochs \(5\) must be fewer than epochs/,
  );
});

test("a NaN loss stops the run with a clear message and keeps the last good checkpoint", async () => {
  const runDir = join(tmp(), "run");
  // Epoch 1 trains normally; at the milestone the learning rate is multiplied by 1e12.
  await assert.rejects(
    train(
      { ...base, warmupEpochs: 0, lrMode: "step", milestones: [1], lrStepMultiplier: 1e12, runDir },
      { progress: "quiet" },
    ),
    (e: Error) =>
      e instanceof NonFiniteLossError &&
      /epoch 2/.test(e.message) &&
      /last good checkpoint/.test(e.message),
  );
  const last = JSON.parse(readFileSync(join(runDir, "checkpoints", "last.json"), "utf8"));
  assert.equal(last.epoch, 1, "the checkpoint of the last good epoch is intact");
  assert.ok(existsSync(join(runDir, "checkpoints", "last.safetensors")));
});
