// Checkpoint format 2 (src/cotrain/checkpoint.ts): one safetensors file holds tensors and
// metadata; its .json is only a copy; damage is named precisely (truncated file, damaged header,
// hash mismatch, missing file); format-1 checkpoints of earlier versions are still read.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Linear } from "../../src/nn/index.js";
import { SGD } from "../../src/optim/index.js";
import { manualSeed, ones, scope } from "../../src/tensor/index.js";
import { readSafetensors, saveSafetensorsSync } from "../../src/io/safetensors.js";
import {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  copyCheckpoint,
  checkpointPaths,
  CheckpointError,
  CHECKPOINT_FORMAT,
  type CheckpointProblem,
} from "../../src/io/run_checkpoint.js";
import { toLegacy } from "../cotrain/legacy_checkpoint.js";

function setup(seed: number) {
  manualSeed(seed);
  const model = new Linear(4, 3);
  const optimizer = new SGD([{ params: model.parameters() }], { lr: 0.1, momentum: 0.9 });
  scope(() => {
    model
      .forward(ones([2, 4]))
      .sum()
      .backward();
    optimizer.step();
  });
  return { model, optimizer, dispose: () => (optimizer.dispose(), model.dispose()) };
}

const fields = {
  epoch: 2,
  batchIndex: 0,
  step: 6,
  arch: "linear",
  split: 1,
  bestAcc1: 40,
  bestEpoch: 2,
  metrics: { epoch: 2, val_acc1: 40 },
  config: { lr: 0.1, seed: 3 },
};

function saved(): { dir: string; dispose: () => void } {
  const dir = fs.mkdtempSync(join(tmpdir(), "divco-ckfmt-"));
  const m = setup(1);
  saveCheckpoint(dir, "last", m.model, m.optimizer, fields);
  return { dir, dispose: m.dispose };
}

function problem(dir: string, name: string): [CheckpointProblem, string] {
  try {
    readCheckpoint(dir, name);
  } catch (e) {
    assert.ok(e instanceof CheckpointError, String(e));
    return [e.problem, e.message];
  }
  assert.fail("the checkpoint was read");
}

test("one file holds the checkpoint; the .json beside it is a copy that is never read", () => {
  const { dir, dispose } = saved();
  const b = setup(2);
  try {
    const paths = checkpointPaths(dir, "last");
    const { metadata, tensors } = readSafetensors(paths.tensors);
    assert.deepEqual(Object.keys(metadata).sort(), [
      "arch",
      "divco.meta",
      "divco.meta.sha256",
      "format",
    ]);
    assert.equal(metadata.format, CHECKPOINT_FORMAT);
    const meta = JSON.parse(metadata["divco.meta"]);
    assert.deepEqual(
      [meta.epoch, meta.step, meta.bestEpoch, meta.config],
      [2, 6, 2, { lr: 0.1, seed: 3 }],
    );
    assert.match(meta.dataSha256, /^[0-9a-f]{64}$/);
    assert.ok(tensors.has("rng.default") && tensors.has("model.weight"));
    assert.deepEqual(JSON.parse(fs.readFileSync(paths.meta, "utf8")), meta, "the copy");

    fs.rmSync(paths.meta);
    const loaded = loadCheckpoint(dir, "last", b.model, b.optimizer);
    assert.equal(loaded.epoch, 2, "read without its .json");
    fs.writeFileSync(paths.meta, JSON.stringify({ ...meta, epoch: 9 }));
    assert.equal(readCheckpoint(dir, "last").meta.epoch, 2, "an edited .json changes nothing");

    copyCheckpoint(dir, "last", "best", loaded);
    assert.deepEqual(
      fs.readFileSync(checkpointPaths(dir, "best").tensors),
      fs.readFileSync(paths.tensors),
    );
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
  } finally {
    dispose();
    b.dispose();
  }
});

test("damage is named: truncated, damaged header, tensor or metadata bytes changed, missing", () => {
  const { dir, dispose } = saved();
  try {
    const file = checkpointPaths(dir, "last").tensors;
    const good = fs.readFileSync(file);
    const headerEnd = 8 + Number(good.readBigUInt64LE(0));
    const variants: [string, Buffer, CheckpointProblem, RegExp][] = [
      [
        "cut in the data",
        good.subarray(0, good.length - 10),
        "truncated",
        new RegExp(`is truncated: it has ${good.length - 10} of its ${good.length} bytes`),
      ],
      ["cut in the header", good.subarray(0, 100), "truncated", /is truncated: it has 100 of/],
      [
        "garbage header",
        Buffer.concat([
          good.subarray(0, 8),
          Buffer.alloc(headerEnd - 8, 0x41),
          good.subarray(headerEnd),
        ]),
        "bad header",
        /has a damaged header: header does not start with/,
      ],
      [
        "a data byte flipped",
        Buffer.from(good).fill(good[good.length - 1] ^ 0xff, good.length - 1),
        "hash mismatch",
        /is corrupt: its tensors' SHA-256 is [0-9a-f]{12}…, the header recorded [0-9a-f]{12}…/,
      ],
      [
        "a metadata digit changed",
        Buffer.from(good.toString("latin1").replace('\\"step\\":6', '\\"step\\":7'), "latin1"),
        "bad header",
        /the checkpoint metadata is corrupt \(its SHA-256 does not match\)/,
      ],
    ];
    for (const [what, bytes, want, msg] of variants) {
      assert.notDeepEqual(bytes, good, `${what}: the bytes differ`);
      fs.writeFileSync(file, bytes);
      const [got, message] = problem(dir, "last");
      assert.equal(got, want, `${what}: ${message}`);
      assert.match(message, msg, what);
      assert.ok(message.startsWith(file), `${what}: names the file`);
    }
    fs.rmSync(file);
    assert.deepEqual(problem(dir, "last")[0], "missing");
    assert.match(
      problem(dir, "last")[1],
      /is missing \(only its metadata file last\.json is there\)/,
    );
    assert.match(problem(dir, "nope")[1], /does not exist \(no checkpoint "nope"/);
    saveSafetensorsSync(join(dir, "weights.safetensors"), readSafetensors(good).tensors);
    assert.match(problem(dir, "weights")[1], /is not a divco checkpoint .*divco eval --weights/);
  } finally {
    dispose();
  }
});

test("format-1 checkpoints (earlier versions) load; a pair from different saves is named as such", () => {
  const { dir, dispose } = saved();
  const b = setup(2);
  try {
    const paths = checkpointPaths(dir, "last");
    const before = readCheckpoint(dir, "last");
    toLegacy(dir, "last");
    assert.equal(readSafetensors(paths.tensors).metadata.format, "divco-checkpoint/1");
    const meta = loadCheckpoint(dir, "last", b.model, b.optimizer);
    assert.deepEqual([meta.format, meta.epoch, meta.step], ["divco-checkpoint/1", 2, 6]);
    assert.deepEqual(readCheckpoint(dir, "last").tensors, before.tensors);

    const json = fs.readFileSync(paths.meta, "utf8");
    fs.writeFileSync(
      paths.meta,
      json.replace(/"tensorsSha256": "[0-9a-f]{4}/, '"tensorsSha256": "0000'),
    );
    const [p, msg] = problem(dir, "last");
    assert.equal(p, "different saves");
    assert.match(msg, /the two files of this format-1 checkpoint come from different saves/);
    fs.rmSync(paths.meta);
    assert.deepEqual(problem(dir, "last")[0], "metadata missing");
    assert.match(problem(dir, "last")[1], /metadata file last\.json is missing: it cannot be used/);
  } finally {
    dispose();
    b.dispose();
  }
});
