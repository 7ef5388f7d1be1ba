// A run's checkpoints (src/cotrain/run_checkpoints.ts): `best` follows the best ensemble top-1,
// the last N epochs are kept (also when N is lowered on resume), and `last` restores the model,
// the optimiser, the position and an interrupted epoch's running sums.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Linear } from "../../src/nn/index.js";
import { SGD } from "../../src/optim/index.js";
import { manualSeed, ones, scope } from "../../src/tensor/index.js";
import {
  RunCheckpoints,
  restoreLast,
  resumedSums,
  updateBest,
  freshRunState,
  type RunState,
} from "../../src/cotrain/run_checkpoints.js";
import { emptyEpochSums } from "../../src/cotrain/epoch_stats.js";

function setup(seed: number) {
  manualSeed(seed);
  const model = new Linear(4, 3);
  const optimizer = new SGD([{ params: model.parameters() }], { lr: 0.1, momentum: 0.9 });
  return { model, optimizer, dispose: () => (optimizer.dispose(), model.dispose()) };
}

const meta = (dir: string, name: string) =>
  JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8"));
const names = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();

/** Runs epochs with the given ensemble top-1s through saveEpoch, as the trainer does. */
function epochs(ck: RunCheckpoints, state: RunState, top1s: number[]): void {
  for (const top1 of top1s) {
    const finished = state.position.epoch + 1;
    state.position = { epoch: finished, batchIndex: 0, step: state.position.step + 3 };
    ck.saveEpoch(state, { epoch: finished, val_acc1: top1 }, updateBest(state, finished, top1));
  }
}

test("best follows the best ensemble top-1; the last N epochs are kept; a lowered N prunes on the next save", () => {
  const dir = mkdtempSync(join(tmpdir(), "divco-ckpt-"));
  const m = setup(0);
  try {
    const state = freshRunState();
    epochs(
      new RunCheckpoints(dir, m.model, m.optimizer, { arch: "linear", split: 1, keepLast: 2 }),
      state,
      [10, 30, 20, 25],
    );
    assert.deepEqual([state.bestAcc1, state.bestEpoch], [30, 2]);
    assert.deepEqual(names(dir), ["best.json", "epoch-0003.json", "epoch-0004.json", "last.json"]);
    assert.equal(meta(dir, "best").epoch, 2, "best is the checkpoint written after epoch 2");
    assert.equal(meta(dir, "best").metrics.val_acc1, 30);
    assert.deepEqual(
      [meta(dir, "last").epoch, meta(dir, "last").bestEpoch, meta(dir, "last").bestAcc1],
      [4, 2, 30],
    );
    assert.deepEqual(
      readFileSync(join(dir, "epoch-0004.safetensors")),
      readFileSync(join(dir, "last.safetensors")),
      "a kept epoch is a copy of last",
    );

    // Resumed with keepLast 1: everything but the newest epoch goes.
    epochs(
      new RunCheckpoints(dir, m.model, m.optimizer, { arch: "linear", split: 1, keepLast: 1 }),
      state,
      [40],
    );
    assert.deepEqual(names(dir), ["best.json", "epoch-0005.json", "last.json"]);
    assert.equal(meta(dir, "best").epoch, 5);

    // keepLast 0 keeps no epoch checkpoints of its own and leaves the ones already there.
    epochs(
      new RunCheckpoints(dir, m.model, m.optimizer, { arch: "linear", split: 1, keepLast: 0 }),
      state,
      [35],
    );
    assert.deepEqual(names(dir), ["best.json", "epoch-0005.json", "last.json"]);
    assert.equal(meta(dir, "best").epoch, 5, "a worse epoch leaves best alone");
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
      "no temporary files left",
    );
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f.endsWith(".safetensors"))
        .sort(),
      names(dir).map((f) => f.replace(/\.json$/, ".safetensors")),
      "each checkpoint is a .safetensors with its .json copy",
    );
  } finally {
    m.dispose();
  }
});

test("updateBest: only a strictly better top-1 counts (NaN never does)", () => {
  const s = freshRunState();
  assert.equal(updateBest(s, 1, 0), true, "any first evaluation beats the −1 start");
  assert.equal(updateBest(s, 2, 0), false);
  assert.equal(updateBest(s, 3, Number.NaN), false);
  assert.deepEqual([s.bestAcc1, s.bestEpoch], [0, 1]);
});

test("restoreLast brings back the model, optimiser, position, best and an interrupted epoch's sums", () => {
  const dir = mkdtempSync(join(tmpdir(), "divco-ckpt-"));
  const a = setup(1);
  const b = setup(2);
  try {
    assert.deepEqual(
      restoreLast(dir, b.model, b.optimizer),
      { state: freshRunState() },
      "no last checkpoint: a fresh start",
    );
    scope(() => {
      a.model
        .forward(ones([2, 4]))
        .sum()
        .backward();
      a.optimizer.step();
    });
    const state: RunState = {
      position: { epoch: 3, batchIndex: 2, step: 14 },
      bestAcc1: 42.5,
      bestEpoch: 2,
    };
    const sums = {
      ...emptyEpochSums(2),
      loss: 7,
      images: 64,
      member: [30, 31],
      n: 2,
      seconds: 1.5,
    };
    new RunCheckpoints(dir, a.model, a.optimizer, {
      arch: "linear",
      split: 2,
      keepLast: 1,
    }).saveLast(state, {}, sums);
    const restored = restoreLast(dir, b.model, b.optimizer);
    assert.deepEqual(restored, { state, partialEpoch: sums });
    assert.deepEqual(b.model.weight.toArray(), a.model.weight.toArray());
    const buffers = (o: typeof a.optimizer) =>
      [...o.stateDict().tensors].map(([k, t]) => [k, t.toArray()]);
    assert.ok(buffers(a.optimizer).length > 0, "SGD with momentum has state to restore");
    assert.deepEqual(buffers(b.optimizer), buffers(a.optimizer), "momentum buffers");
    assert.equal(
      resumedSums(2, 2, restored.partialEpoch),
      restored.partialEpoch,
      "the interrupted epoch continues its sums",
    );
    assert.deepEqual(
      resumedSums(2, 0, restored.partialEpoch),
      emptyEpochSums(2),
      "a new epoch starts from zero",
    );
  } finally {
    a.dispose();
    b.dispose();
  }
});
