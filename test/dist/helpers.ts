// Shared by the distributed tests: ranks as child processes on 127.0.0.1 (one intra-op thread
// each, a free port per run, bounded in time, killed in `finally`), the tiny training recipe
// they run, and comparisons of the checkpoints they write.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAIN_JS } from "../cli/helpers.js";
import { loadTensors } from "../../src/io/tensors.js";
import { freePort } from "../../src/dist/launcher.js";

export { freePort, MAIN_JS };

export const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `divco-dist-${prefix}-`));

/**
 * Tiny but real: resnet29, S = 2, 96 sample images in 3 batches of 32 per epoch, 50 evaluation
 * images; no mixup (it mixes within a shard: not the same batch as one process's) and SyncBN (so
 * a shard's batch norm sees the global batch), so every world size computes the same steps.
 */
export const RECIPE = [
  "--arch", "resnet29", "--split", "2", "--data", "sample", "--train-limit", "96",
  "--eval-limit", "50", "--batch-size", "32", "--eval-batch-size", "25", "--epochs", "2",
  "--warmup-epochs", "1", "--cot-warmup-epochs", "1", "--workers", "0", "--keep-last", "0",
  "--seed", "3", "--mixup-alpha", "0", "--sync-bn", "--threads", "1",
]; // prettier-ignore

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Proc {
  child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  done: Promise<Finished>;
  /** Resolves when stderr has matched `re` (rejects if the process ends first). */
  waitFor(re: RegExp): Promise<void>;
}

/** Starts `node main.js ...args` with `env` added; killed after `limitMs`. */
export function divco(args: string[], env: Record<string, string> = {}, limitMs = 120_000): Proc {
  return nodeProcess([MAIN_JS, ...args], env, limitMs);
}

/** Starts `node ...argv` with `env` added (one intra-op thread); killed after `limitMs`. */
export function nodeProcess(
  argv: string[],
  env: Record<string, string> = {},
  limitMs = 120_000,
): Proc {
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, DIVCO_NUM_THREADS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const watchers: { re: RegExp; resolve: () => void }[] = [];
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of watchers.splice(0)) {
      if (w.re.test(stderr)) w.resolve();
      else watchers.push(w);
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const done = new Promise<Finished>((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
    waitFor(re) {
      if (re.test(stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        watchers.push({ re, resolve });
        void done.then(() =>
          reject(new Error(`the process ended before printing ${re}:\n${stderr.slice(-2000)}`)),
        );
      });
    },
  };
}

/** Rank `rank` of a run of `n` on 127.0.0.1:port (RANK, WORLD_SIZE, MASTER_* as a launcher sets them). */
export function rank(
  n: number,
  rank: number,
  port: number,
  args: string[],
  env: Record<string, string> = {},
): Proc {
  return divco(args, {
    RANK: String(rank),
    WORLD_SIZE: String(n),
    MASTER_ADDR: "127.0.0.1",
    MASTER_PORT: String(port),
    ...env,
  });
}

/** `n` ranks of one run on 127.0.0.1:port. */
export function ranks(
  n: number,
  port: number,
  args: string[] | ((rank: number) => string[]),
  env: Record<string, string> = {},
): Proc[] {
  return Array.from({ length: n }, (_, r) =>
    rank(n, r, port, typeof args === "function" ? args(r) : args, env),
  );
}

/**
 * Kills whatever is still running (for `finally`). A launcher gets SIGTERM, which it passes on
 * to its processes (SIGKILL would leave them behind).
 */
export function killAll(procs: Proc[], signal: NodeJS.Signals = "SIGKILL"): void {
  for (const p of procs)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
}

/** Every process's result; fails naming the first that did not exit 0. */
export async function allSucceed(procs: Proc[]): Promise<Finished[]> {
  const results = await Promise.all(procs.map((p) => p.done));
  results.forEach((r, i) => assertCode(r, 0, `process ${i}`));
  return results;
}

export function assertCode(r: Finished, code: number, what: string): void {
  if (r.code !== code)
    throw new Error(
      `${what} exited with ${r.code ?? r.signal}, expected ${code}:\n${r.stderr.slice(-3000)}`,
    );
}

/** The `last` checkpoint's model and optimiser tensors, as arrays. */
export function checkpointTensors(runDir: string, prefix = "model."): Map<string, number[]> {
  const { tensors } = loadTensors(join(runDir, "checkpoints", "last.safetensors"));
  const out = new Map<string, number[]>();
  for (const [k, t] of tensors) {
    if (k.startsWith(prefix)) out.set(k, t.toArray());
    t.dispose();
  }
  return out;
}

/** The largest |a − b| over every tensor (the key sets must be equal). */
export function maxDifference(a: Map<string, number[]>, b: Map<string, number[]>): number {
  if ([...a.keys()].sort().join() !== [...b.keys()].sort().join())
    throw new Error("the checkpoints hold different tensors");
  let max = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  }
  return max;
}
