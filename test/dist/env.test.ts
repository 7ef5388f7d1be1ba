// The torchrun environment, the rank topology of the two modes, and the launcher's checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DistError, readDistEnv, launchedWorldSize, isLoopback } from "../../src/dist/env.js";
import { topology, dataGroupRanks, memberGroupRanks } from "../../src/dist/topology.js";
import {
  launch,
  resolveCommand,
  validateLaunch,
  type LaunchOptions,
} from "../../src/dist/launcher.js";

test("readDistEnv: torchrun's variables, its defaults, and errors naming the variable", () => {
  assert.deepEqual(
    readDistEnv({
      RANK: "3",
      WORLD_SIZE: "4",
      LOCAL_RANK: "1",
      LOCAL_WORLD_SIZE: "2",
      MASTER_ADDR: "10.0.0.1",
      MASTER_PORT: "1234",
    }),
    {
      rank: 3,
      worldSize: 4,
      localRank: 1,
      localWorldSize: 2,
      masterAddr: "10.0.0.1",
      masterPort: 1234,
    },
  );
  assert.deepEqual(readDistEnv({ RANK: "1", WORLD_SIZE: "2" }), {
    rank: 1,
    worldSize: 2,
    localRank: 1,
    localWorldSize: 2,
    masterAddr: "127.0.0.1",
    masterPort: 29500,
  });
  assert.throws(
    () => readDistEnv({ WORLD_SIZE: "2" }),
    /RANK is not set: start distributed training with `divco launch/,
  );
  assert.throws(
    () => readDistEnv({ RANK: "2", WORLD_SIZE: "2" }),
    /RANK 2 is not below WORLD_SIZE 2/,
  );
  assert.throws(
    () => readDistEnv({ RANK: "0", WORLD_SIZE: "two" }),
    /WORLD_SIZE must be an integer ≥ 1, got "two"/,
  );
  assert.throws(() => readDistEnv({ RANK: "0", WORLD_SIZE: "1", MASTER_PORT: "70000" }), DistError);
  assert.equal(launchedWorldSize({}), null);
  assert.equal(launchedWorldSize({ WORLD_SIZE: "4" }), 4);
  assert.ok(isLoopback("127.0.0.1") && isLoopback("localhost") && !isLoopback("10.1.2.3"));
});

test("topology: data-parallel shards over all ranks; member-parallel puts member m on ranks m·D … m·D+D−1", () => {
  const dp = topology(4, 2, "data", 2);
  assert.deepEqual(dp, {
    worldSize: 4,
    rank: 2,
    mode: "data",
    memberRanks: 1,
    replicas: 4,
    member: null,
    replica: 2,
  });
  assert.deepEqual(dataGroupRanks(dp, 0), [0, 1, 2, 3]);
  const mp = topology(4, 3, "member", 2);
  assert.equal(mp.member, 1);
  assert.equal(mp.replica, 1);
  assert.deepEqual(dataGroupRanks(mp, 1), [2, 3], "member 1's replicas average gradients");
  assert.deepEqual(memberGroupRanks(mp, 1), [1, 3], "shard 1's members gather logits");
  assert.throws(
    () => topology(3, 0, "member", 2),
    /needs a multiple of S = 2 processes .* got WORLD_SIZE 3/,
  );
  assert.throws(() => topology(2, 0, "member", 1), /with split 1 use data-parallel training/);
});

/** Two processes on this machine, no restarts. */
const TWO_LOCAL: LaunchOptions = {
  nprocPerNode: 2,
  nnodes: 1,
  nodeRank: 0,
  masterAddr: "127.0.0.1",
  masterPort: null,
  maxRestarts: 0,
  command: ["divco", "train"],
};

test("launch: its checks, and `divco` runs this divco with this Node", () => {
  const ok = TWO_LOCAL;
  validateLaunch(ok);
  assert.throws(
    () => validateLaunch({ ...ok, nodeRank: 1 }),
    /--node-rank 1 must be below --nnodes 1/,
  );
  assert.throws(
    () => validateLaunch({ ...ok, nnodes: 2, nodeRank: 1 }),
    /--master-port is required with several machines/,
  );
  assert.throws(
    () => validateLaunch({ ...ok, command: [] }),
    /no command to launch: put it after --/,
  );
  assert.throws(
    () => validateLaunch({ ...ok, nprocPerNode: 0 }),
    /--nproc-per-node must be an integer ≥ 1/,
  );
  const [program, args] = resolveCommand(["divco", "train", "--arch", "x"]);
  assert.equal(program, process.execPath);
  assert.match(args[0], /cli[/\\]main\.js$/);
  assert.deepEqual(args.slice(1), ["train", "--arch", "x"]);
  assert.deepEqual(resolveCommand(["python3", "x.py"]), ["python3", ["x.py"]]);
});

test("launch: a rank that dies is named, the others are stopped, its exit code is returned", async () => {
  const lines: string[] = [];
  // Local rank 1 kills itself at once; rank 0 would wait a minute unless stopped.
  const script =
    "if (process.env.LOCAL_RANK === '1') process.kill(process.pid, 'SIGKILL'); else setTimeout(() => {}, 60000);";
  const t0 = performance.now();
  const code = await launch({
    ...TWO_LOCAL,
    command: [process.execPath, "-e", script],
    log: (line) => lines.push(line),
  });
  assert.equal(code, 137);
  assert.ok(performance.now() - t0 < 30_000, "rank 0 was stopped, not waited for");
  assert.deepEqual(lines, [
    "divco launch: rank 1 failed (exit code 137); stopped the other processes of this machine (--max-restarts K restarts them from the last checkpoint)",
  ]);
});
