// `divco launch`: starts one machine's share of a distributed run — N processes with the
// torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// plus GROUP_RANK and TORCHELASTIC_RESTART_COUNT) — and supervises them. When one fails, the
// others are stopped (their collectives could only time out) and, up to --max-restarts times,
// all are started again: a restarted `divco train` resumes from the run's last checkpoint.
//
// No native code here: launching never loads libtorch.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { DistError } from "./env.js";

export interface LaunchOptions {
  /** Processes on this machine. */
  nprocPerNode: number;
  nnodes: number;
  /** This machine's index, 0 … nnodes−1 (machine 0 hosts rank 0 and the rendezvous). */
  nodeRank: number;
  masterAddr: string;
  /** null: a free port (one machine only). */
  masterPort: number | null;
  /** Restarts of all processes after a failure. */
  maxRestarts: number;
  /** The program and its arguments; a leading "divco" runs this divco with this Node. */
  command: string[];
  /** Launcher messages (restarts, failures). */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Exit codes a restart cannot fix: a usage error (2) and a requested stop (130, Ctrl-C). */
const FINAL_CODES = new Set([2, 130]);
/** How long a stopped process gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5000;

export function validateLaunch(o: LaunchOptions): void {
  const int = (name: string, v: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min))
      throw new DistError(`--${name} must be an integer ≥ ${min}, got ${v}`);
  };
  int("nproc-per-node", o.nprocPerNode, 1);
  int("nnodes", o.nnodes, 1);
  int("node-rank", o.nodeRank, 0);
  int("max-restarts", o.maxRestarts, 0);
  if (o.nodeRank >= o.nnodes)
    throw new DistError(`--node-rank ${o.nodeRank} must be below --nnodes ${o.nnodes}`);
  if (
    o.masterPort !== null &&
    !(Number.isInteger(o.masterPort) && o.masterPort > 0 && o.masterPort < 65536)
  )
    throw new DistError(`--master-port must be 1…65535, got ${o.masterPort}`);
  if (o.masterPort === null && o.nnodes > 1)
    throw new DistError(
      "--master-port is required with several machines (every launcher must give the same)",
    );
  if (o.command.length === 0)
    throw new DistError(
      "no command to launch: put it after --, e.g. divco launch --nproc-per-node 2 -- divco train ...",
    );
}

/** A port nothing listens on right now (the kernel's pick), for a single-machine run. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** The command to spawn: "divco …" becomes this Node running this divco's CLI. */
export function resolveCommand(command: string[]): [string, string[]] {
  if (command[0] === "divco") {
    const main = fileURLToPath(new URL("../cli/main.js", import.meta.url));
    return [process.execPath, [main, ...command.slice(1)]];
  }
  return [command[0], command.slice(1)];
}

interface Exit {
  rank: number;
  code: number;
}

/** The exit code of a process that ended with `code` or by `signal` (shell convention: 128 + n). */
function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
    SIGSEGV: 11,
    SIGABRT: 6,
  };
  return 128 + (signal ? (numbers[signal] ?? 1) : 1);
}

/**
 * Runs the command as this machine's processes until they all finish; returns the exit code to
 * report (0: every process succeeded).
 */
export async function launch(o: LaunchOptions): Promise<number> {
  validateLaunch(o);
  const log = o.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const masterPort = o.masterPort ?? (await freePort());
  const world = o.nnodes * o.nprocPerNode;
  const [program, args] = resolveCommand(o.command);
  let children: ChildProcess[] = [];
  let interrupts = 0;
  // Ranks run in their own process groups so that a Ctrl-C reaches them once, from here: a
  // second one (which makes `divco train` quit without a checkpoint) must be the user's.
  const forward = (signal: NodeJS.Signals) => () => {
    if (signal === "SIGINT") interrupts++;
    for (const c of children) signalGroup(c, signal);
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  const killAll = () => children.forEach((c) => signalGroup(c, "SIGKILL"));
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.on("exit", killAll);
  try {
    for (let attempt = 0; ; attempt++) {
      children = Array.from({ length: o.nprocPerNode }, (_, local) =>
        spawn(program, args, {
          stdio: ["ignore", "inherit", "inherit"],
          detached: true,
          env: {
            ...(o.env ?? process.env),
            RANK: String(o.nodeRank * o.nprocPerNode + local),
            WORLD_SIZE: String(world),
            LOCAL_RANK: String(local),
            LOCAL_WORLD_SIZE: String(o.nprocPerNode),
            GROUP_RANK: String(o.nodeRank),
            MASTER_ADDR: o.masterAddr,
            MASTER_PORT: String(masterPort),
            TORCHELASTIC_RESTART_COUNT: String(attempt),
            TORCHELASTIC_MAX_RESTARTS: String(o.maxRestarts),
          },
        }),
      );
      const failed = await supervise(children, o.nodeRank * o.nprocPerNode);
      if (!failed) return 0;
      if (interrupts > 0 || FINAL_CODES.has(failed.code) || attempt >= o.maxRestarts) {
        // Without this line a rank that died (kill -9, out of memory) ends the launch with only
        // its exit code: the others were stopped here before they could name it themselves.
        if (interrupts === 0 && failed.code !== 130)
          log(
            `divco launch: rank ${failed.rank} failed (exit code ${failed.code}); stopped the other processes of this machine${o.maxRestarts === 0 ? " (--max-restarts K restarts them from the last checkpoint)" : ""}`,
          );
        return failed.code;
      }
      log(
        `divco launch: rank ${failed.rank} failed (exit code ${failed.code}); restarting all ${o.nprocPerNode} processes of this machine from the last checkpoint (restart ${attempt + 1} of ${o.maxRestarts})`,
      );
    }
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    process.off("exit", killAll);
  }
}

function signalGroup(c: ChildProcess, signal: NodeJS.Signals): void {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  try {
    process.kill(-c.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Waits for `children`. The first to fail (other than by a requested stop, 130) gets the rest
 * stopped: SIGTERM, then SIGKILL after a grace period. Resolves with the first failure, or null
 * when every process exited 0.
 */
function supervise(children: ChildProcess[], firstRank: number): Promise<Exit | null> {
  return new Promise((resolve) => {
    let running = children.length;
    let first: Exit | null = null;
    let killTimer: NodeJS.Timeout | null = null;
    children.forEach((c, i) => {
      let ended = false; // "error" (could not spawn) may come with or without "exit"
      const done = (code: number) => {
        if (ended) return;
        ended = true;
        const rank = firstRank + i;
        if (code !== 0 && !first) {
          first = { rank, code };
          // A stop request ends every rank after the same step (rank 0 still writing its
          // checkpoint): let them finish. Any other failure leaves the others waiting in a
          // collective for a peer that is gone.
          if (code !== 130) {
            for (const other of children) signalGroup(other, "SIGTERM");
            killTimer = setTimeout(
              () => children.forEach((x) => signalGroup(x, "SIGKILL")),
              KILL_GRACE_MS,
            );
          }
        }
        if (--running === 0) {
          if (killTimer) clearTimeout(killTimer);
          resolve(first);
        }
      };
      c.once("error", (e) => {
        if (!first)
          process.stderr.write(`divco launch: cannot start ${c.spawnfile}: ${e.message}\n`);
        done(127);
      });
      c.once("exit", (code, signal) => done(exitCode(code, signal)));
    });
  });
}
