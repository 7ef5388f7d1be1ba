// `divco train` killed (SIGKILL, through DIVCO_TEST_CRASH_AT) at every named point of the
// epoch-end write sequence, then resumed: the resumed run must end bit for bit where an
// uninterrupted run ends. Then run directories damaged after a crash (a deleted last.json, a
// truncated checkpoint or metrics line, an edited config.json, lost checkpoints, the two-file
// checkpoints of earlier versions) are resumed or refused without losing anything, two
// processes started on one run directory at once, and `divco eval` on a damaged run.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { train } from "../../src/cotrain/trainer.js";
import { ConfigError } from "../../src/cotrain/config.js";
import { readCheckpoint, checkpointPaths } from "../../src/io/run_checkpoint.js";
import { ResumeRefusedError } from "../../src/cotrain/resume.js";
import { claimRunDir, RUN_LOCK, RunDirBusyError } from "../../src/cotrain/run_lock.js";
import { readMetrics } from "../../src/report/metrics_log.js";
import { runEval } from "../../src/cli/eval.js";
import { toLegacy } from "./legacy_checkpoint.js";
import "../../src/models/index.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const ROOT = fs.mkdtempSync(join(tmpdir(), "divco-crash-"));
process.on("exit", () => fs.rmSync(ROOT, { recursive: true, force: true }));

// The smallest run that reaches every point: resnet29 S=2, 2 batches of 8 images per epoch,
// 2 epochs, keepLast 1 (epoch 2 prunes epoch 1), one thread so every process computes alike.
const TRAIN = [
  "train",
  "--arch",
  "resnet29",
  "--split",
  "2",
  "--data",
  "sample",
  "--train-limit",
  "16",
  "--eval-limit",
  "8",
  "--batch-size",
  "8",
  "--eval-batch-size",
  "8",
  "--epochs",
  "2",
  "--warmup-epochs",
  "1",
  "--cot-warmup-epochs",
  "1",
  "--workers",
  "0",
  "--keep-last",
  "1",
  "--threads",
  "1",
];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function divco(args: string[], crashAt?: string): Promise<Exit> {
  const env: NodeJS.ProcessEnv = { ...process.env, DIVCO_NUM_THREADS: "1" };
  if (crashAt) env.DIVCO_TEST_CRASH_AT = crashAt;
  else delete env.DIVCO_TEST_CRASH_AT;
  const child = spawn(process.execPath, [MAIN, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** Resumes `runDir` in this process; returns the result and what it printed. */
async function resumeHere(runDir: string) {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString()));
  const result = await train({ runDir }, { resume: true, progress: out });
  return { result, text };
}

// Timing columns differ between any two runs; everything else must not.
const TIMING = new Set(["epoch_seconds", "train_images_per_s"]);
const stable = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).filter(([k]) => !TIMING.has(k)));

/** What must equal between two runs: checkpoint files, tensors bit for bit, positions, metric rows. */
function outcome(runDir: string) {
  const dir = join(runDir, "checkpoints");
  const checkpoints = Object.fromEntries(
    ["last", "best", "epoch-0002"].map((name) => {
      const { meta, tensors } = readCheckpoint(dir, name);
      const bytes = [...tensors].map(([k, r]) => [k, Buffer.from(r.data).toString("base64")]);
      const m = meta;
      return [name, { position: [m.epoch, m.batchIndex, m.step, m.bestAcc1, m.bestEpoch], bytes }];
    }),
  );
  return {
    files: fs.readdirSync(dir).sort(),
    runFiles: fs.readdirSync(runDir).sort(),
    checkpoints,
    rows: readMetrics(runDir).map(stable),
  };
}

let straight: ReturnType<typeof outcome>;

before(async () => {
  const dir = join(ROOT, "straight");
  const r = await divco([...TRAIN, "--seed", "3", "--run-dir", dir]);
  assert.equal(r.code, 0, r.stderr);
  straight = outcome(dir);
  assert.deepEqual(straight.files, [
    "best.json",
    "best.safetensors",
    "epoch-0002.json",
    "epoch-0002.safetensors",
    "last.json",
    "last.safetensors",
  ]);
  assert.equal(straight.rows.length, 2);
});

/** Runs `jobs` two at a time (the machine's two cores). */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

// Each point at the epoch where a crash there leaves the most to repair. Epoch 1 improves on
// the best (best:* is reached then only); before epoch 1's checkpoint is committed the run has
// none (it starts over); epoch 2's crashes have epoch 1's checkpoints to fall back on.
const KILL_POINTS = [
  "log:jsonl#1",
  "last:written#1",
  "best:written#1",
  "best:renamed#1",
  "epoch:written#1",
  "log:jsonl#2",
  "log:csv#2",
  "log:tensorboard#2",
  "last:written#2",
  "last:renamed#2",
  "epoch:written#2",
  "epoch:renamed#2",
  "prune:sidecar-removed#1",
];

const keptAfterKill = new Map<string, string>();

test("killed at every named point of the checkpoint sequence, a resumed run ends bit-exactly", async () => {
  const results = await inPairs(
    KILL_POINTS.map((point) => async () => {
      const dir = join(ROOT, point.replace(/[:#]/g, "_"));
      const killed = await divco([...TRAIN, "--seed", "3", "--run-dir", dir], point);
      assert.equal(killed.signal, "SIGKILL", `${point}: killed there\n${killed.stderr}`);
      assert.ok(fs.existsSync(join(dir, RUN_LOCK)), `${point}: kill -9 leaves the lock`);
      if (point === "last:renamed#2") {
        // The damage tests below start from this state.
        const copy = join(ROOT, "after-last-renamed");
        fs.cpSync(dir, copy, { recursive: true });
        keptAfterKill.set(point, copy);
      }
      const resumed = await divco(["train", "--resume", dir]);
      return { point, dir, resumed };
    }),
  );
  for (const { point, dir, resumed } of results) {
    assert.equal(resumed.code, 0, `${point}: ${resumed.stderr}`);
    assert.match(resumed.stderr, /which is no longer running; taking the run directory over/);
    assert.match(
      resumed.stderr,
      /divco: (resuming from checkpoints\/\S+ \(epoch \d finished\)|no checkpoint was committed yet)/,
      point,
    );
    assert.deepEqual(
      outcome(dir),
      straight,
      `${point}: the resumed run equals the uninterrupted one`,
    );
  }
  const said = (p: string) => results.find((r) => r.point === p)!.resumed.stderr;
  assert.match(
    said("log:jsonl#1"),
    /no checkpoint was committed yet[\s\S]*rows of epoch 1 were logged after/,
  );
  assert.match(said("best:renamed#1"), /rewrote checkpoints\/best\.json/);
  assert.match(said("best:written#1"), /rebuilt checkpoints\/best\.safetensors from last/);
  assert.match(said("epoch:written#2"), /rebuilt checkpoints\/epoch-0002\.safetensors from last/);
  assert.match(said("last:written#2"), /removed 1 temporary file/);
  assert.match(said("prune:sidecar-removed#1"), /removed epoch-0001 \(keepLast 1/);
});

/** A fresh copy of the run killed at last:renamed#2 (last at epoch 2; epoch-0001, best at 1). */
function damaged(name: string): string {
  const src = keptAfterKill.get("last:renamed#2");
  assert.ok(src, "the kill test ran first");
  const dir = join(ROOT, name);
  fs.cpSync(src, dir, { recursive: true });
  return dir;
}

/** Every file of a run directory but its lock, with its bytes. */
function snapshot(runDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(runDir, { recursive: true }) as string[]) {
    const p = join(runDir, f);
    if (f !== RUN_LOCK && fs.statSync(p).isFile()) out[f] = fs.readFileSync(p).toString("base64");
  }
  return out;
}

test("resume after damage recovers from the other copies and says so, or refuses and changes nothing", async () => {
  // last.json deleted: the checkpoint is whole without it.
  let dir = damaged("no-last-json");
  fs.rmSync(join(dir, "checkpoints", "last.json"));
  let r = await resumeHere(dir);
  assert.match(r.text, /resuming from checkpoints\/last\.safetensors \(epoch 2 finished\)/);
  assert.match(r.text, /rewrote checkpoints\/last\.json/);
  assert.deepEqual(outcome(dir), straight);

  // last.safetensors cut short: the newest intact checkpoint is epoch 1's; epoch 2 runs again.
  dir = damaged("truncated-last");
  const last = checkpointPaths(join(dir, "checkpoints"), "last").tensors;
  fs.truncateSync(last, fs.statSync(last).size - 1000);
  r = await resumeHere(dir);
  assert.match(r.text, /resuming from checkpoints\/epoch-0001\.safetensors \(epoch 1 finished\)/);
  assert.match(r.text, /skipped: .*last\.safetensors is truncated: it has \d+ of its \d+ bytes/);
  assert.match(r.text, /metrics rows of epoch 2 were logged after the checkpoint resumed from/);
  assert.deepEqual(outcome(dir), straight);

  // The last line of metrics.jsonl cut short: epoch 2's row comes back from metrics.csv.
  dir = damaged("truncated-metrics");
  const jsonl = join(dir, "metrics.jsonl");
  const rows = fs.readFileSync(jsonl, "utf8");
  fs.writeFileSync(jsonl, rows.slice(0, rows.length - 30));
  r = await resumeHere(dir);
  assert.match(r.text, /metrics\.jsonl ended in a cut-short line/);
  assert.match(r.text, /lacked the row of epoch 2; recovered from metrics\.csv/);
  assert.equal(fs.readFileSync(jsonl, "utf8"), rows, "the very row that was logged");
  assert.deepEqual(outcome(dir), straight);

  // config.json lost: the configuration stored in the checkpoint is used and written back.
  dir = damaged("no-config");
  const config = JSON.parse(fs.readFileSync(join(dir, "config.json"), "utf8"));
  fs.rmSync(join(dir, "config.json"));
  r = await resumeHere(dir);
  assert.match(
    r.text,
    /config\.json does not exist: using the configuration stored in checkpoints\/last\.safetensors/,
  );
  assert.deepEqual(JSON.parse(fs.readFileSync(join(dir, "config.json"), "utf8")), {
    ...config,
    runDir: dir,
  });
  assert.deepEqual(outcome(dir), straight);

  // config.json edited by hand: refused like a changed flag; nothing is touched.
  dir = damaged("edited-config");
  const cfgPath = join(dir, "config.json");
  fs.writeFileSync(cfgPath, fs.readFileSync(cfgPath, "utf8").replace('"lr": 0.1,', '"lr": 0.5,'));
  let before = snapshot(dir);
  await assert.rejects(
    resumeHere(dir),
    (e: Error) =>
      e instanceof ConfigError &&
      /config\.json was changed after checkpoints\/last\.safetensors was saved/.test(e.message) &&
      /lr: 0\.1 → 0\.5/.test(e.message) &&
      /Undo the edit to resume, or train with the new values in a new run/.test(e.message),
  );
  assert.deepEqual(snapshot(dir), before);
  assert.ok(!fs.existsSync(join(dir, RUN_LOCK)), "the lock is released on the error");

  // Every checkpoint lost, metrics kept: refused, nothing touched.
  dir = damaged("no-checkpoints");
  for (const f of fs.readdirSync(join(dir, "checkpoints"))) fs.rmSync(join(dir, "checkpoints", f));
  before = snapshot(dir);
  await assert.rejects(
    resumeHere(dir),
    (e: Error) =>
      e instanceof ResumeRefusedError &&
      /holds no checkpoint/.test(e.message) &&
      /metrics\.jsonl has rows up to epoch 2/.test(e.message) &&
      /Nothing was changed/.test(e.message),
  );
  assert.deepEqual(snapshot(dir), before);
});

test("run directories of earlier versions (two-file checkpoints) are evaluated and resumed", async () => {
  const dir = damaged("legacy");
  const ck = join(dir, "checkpoints");
  for (const name of ["last", "best", "epoch-0001"]) toLegacy(ck, name);
  const evalRun = async (...args: string[]) => {
    const err: string[] = [];
    const out: string[] = [];
    const code = await runEval(["--run", dir, "--json", "--eval-limit", "8", ...args], {
      log: (s) => out.push(s),
      err: (s) => err.push(s),
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  const e = await evalRun("--checkpoint", "last");
  assert.equal(e.code, 0, e.err);
  assert.equal(JSON.parse(e.out).images, 8);

  // The old version killed between its two renames of last: the pair comes from two saves.
  const mixed = damaged("legacy-mixed");
  const mck = join(mixed, "checkpoints");
  for (const name of ["last", "best", "epoch-0001"]) toLegacy(mck, name);
  fs.copyFileSync(join(mck, "epoch-0001.json"), join(mck, "last.json"));
  const m = await resumeHere(mixed);
  assert.match(m.text, /last\.safetensors does not match last\.json .*come from different saves/);
  assert.match(m.text, /resuming from checkpoints\/epoch-0001\.safetensors/);
  assert.match(m.text, /format-1 checkpoint of an earlier divco/);
  assert.deepEqual(outcome(mixed), straight);

  const r = await resumeHere(dir);
  assert.match(r.text, /resuming from checkpoints\/last\.safetensors \(epoch 2 finished\)/);
  assert.match(r.text, /config\.json is used unchecked/);
  assert.deepEqual(outcome(dir), straight, "continued in format 2, bit for bit");

  // divco eval on a run whose best is damaged: what is wrong, and what to do instead.
  const best = checkpointPaths(ck, "best").tensors;
  fs.truncateSync(best, 100);
  const bad = await evalRun();
  assert.equal(bad.code, 1);
  assert.match(bad.err, /best\.safetensors is truncated: it has 100 of its \d+ bytes/);
  assert.match(
    bad.err,
    /intact checkpoints of this run: epoch-0002 \(epoch 2 finished\), last \(epoch 2 finished\)/,
  );
  assert.match(bad.err, /divco train --resume .* repairs best/);
});

test("two runs started at once on one directory: one trains, the other names it and stops", async () => {
  const dir = join(ROOT, "race");
  const [a, b] = await Promise.all([
    divco([...TRAIN, "--seed", "0", "--run-dir", dir]),
    divco([...TRAIN, "--seed", "1", "--run-dir", dir]),
  ]);
  const winners = [a, b].filter((r) => r.code === 0);
  const losers = [a, b].filter((r) => r.code !== 0);
  assert.equal(winners.length, 1, `${a.stderr}\n---\n${b.stderr}`);
  assert.equal(losers[0].code, 1, losers[0].stderr);
  assert.match(
    losers[0].stderr,
    /run directory .*race is in use by another divco process: pid \d+ on host \S+ since \d{4}-\d\d-\d\dT[\d:.]+Z \(divco train .*--seed [01]/,
  );
  const seed = a.code === 0 ? 0 : 1;
  const cfg = JSON.parse(fs.readFileSync(join(dir, "config.json"), "utf8"));
  const { meta } = readCheckpoint(join(dir, "checkpoints"), "last");
  assert.deepEqual([cfg.seed, meta.config?.seed], [seed, seed], "config and weights of one run");
  assert.deepEqual(
    readMetrics(dir).map((row) => row.epoch),
    [1, 2],
  );
  assert.ok(!fs.existsSync(join(dir, RUN_LOCK)), "released at the end");

  // --resume while another process holds the directory (here: this one) is refused too.
  const claim = claimRunDir(dir, { create: false });
  try {
    const r = await divco(["train", "--resume", dir, "--epochs", "3"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`in use by another divco process: pid ${process.pid} on host`),
    );
    assert.throws(() => claimRunDir(dir, { create: false }), RunDirBusyError);
  } finally {
    claim.release();
  }
});
