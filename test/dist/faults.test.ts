// Failures of a distributed run end it, quickly and saying why: a rank killed mid-training makes
// the others exit naming it (no hang), and a taken port, an unreachable master, a missing rank or
// ranks started with different options are reported before training starts, writing nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { RECIPE, freePort, killAll, rank, ranks, tmp, type Proc } from "./helpers.js";

const root = tmp("faults");
const LONG = [...RECIPE, "--epochs", "20", "--dist-timeout", "30"];

for (const victim of [1, 0]) {
  test(`rank ${victim} killed with SIGKILL: the other rank exits within the timeout, naming it`, async () => {
    const runDir = join(root, `killed${victim}`);
    const procs: Proc[] = ranks(2, await freePort(), ["train", ...LONG, "--run-dir", runDir]);
    try {
      // Rank 0 prints progress once training runs: both ranks are inside the step loop.
      await procs[0].waitFor(/epoch 1\/20 step 1\/3/);
      const t0 = performance.now();
      procs[victim].child.kill("SIGKILL");
      const survivor = await procs[1 - victim].done;
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(survivor.code, 1, survivor.stderr);
      const named =
        victim === 1
          ? /rank 1 stopped responding/
          : /rank 0 \(the rendezvous host at [^)]*\) stopped responding/;
      assert.match(survivor.stderr, named);
      assert.ok(seconds < 30, `the survivor took ${seconds.toFixed(1)} s`);
    } finally {
      killAll(procs);
    }
  });
}

test("a port already in use: rank 0 says so before training, and writes nothing", async () => {
  const server = createServer();
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "0.0.0.0", () => resolve((server.address() as { port: number }).port)),
  );
  const runDir = join(root, "port");
  const p = rank(2, 0, port, ["train", ...RECIPE, "--dist-timeout", "10", "--run-dir", runDir]);
  try {
    const r = await p.done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`could not listen on port ${port}: it is already in use`));
    assert.equal(existsSync(runDir), false);
  } finally {
    killAll([p]);
    server.close();
  }
});

test("an unreachable master: the rank gives up after --dist-timeout, naming the address", async () => {
  const port = await freePort();
  const p = rank(2, 1, port, [
    "train",
    ...RECIPE,
    "--dist-timeout",
    "3",
    "--run-dir",
    join(root, "x"),
  ]);
  try {
    const r = await p.done;
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`rank 1 could not reach the rendezvous at 127\\.0\\.0\\.1:${port} within 3 s`),
    );
  } finally {
    killAll([p]);
  }
});

test("a rank that never starts: the others report it after --dist-timeout", async () => {
  const args = ["train", ...RECIPE, "--dist-timeout", "3", "--run-dir", join(root, "y")];
  const p = rank(2, 0, await freePort(), args);
  try {
    const r = await p.done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not every rank joined the rendezvous .* within 3 s \(WORLD_SIZE=2/);
  } finally {
    killAll([p]);
  }
});

test("ranks started with different options stop before training (exit 2), naming the options", async () => {
  const runDir = join(root, "mismatch");
  const procs = ranks(2, await freePort(), (rank) => [
    "train",
    ...RECIPE,
    ...(rank === 1 ? ["--seed", "4", "--split", "4"] : []),
    "--run-dir",
    runDir,
  ]);
  try {
    const results = await Promise.all(procs.map((p) => p.done));
    for (const r of results) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /rank 1 was started with other training options than rank 0/);
      assert.match(r.stderr, /split: 2 on rank 0, 4 on rank 1/);
      assert.match(r.stderr, /seed: 3 on rank 0, 4 on rank 1/);
    }
    assert.equal(existsSync(runDir), false);
  } finally {
    killAll(procs);
  }
});
