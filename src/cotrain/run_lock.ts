// One live process owns a run directory while it writes into it: `divco train` (new or
// --resume) takes <runDir>/divco.lock (io/lock.ts: an atomic exclusive create) before it reads
// the checkpoints to resume from or writes anything, and holds it until it ends — released on
// a normal end, on an error and on Ctrl-C, and recognised as stale once its process is gone
// (kill -9), in which case the next run takes it over and says so. A second process on the same
// directory stops at once with a message naming the holder. (`divco eval` and `divco report`
// only read; every checkpoint is one atomically renamed file, so they need no lock.)
import { existsSync, mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { hostname } from "node:os";
import {
  acquireLock,
  describeHolder,
  holderAlive,
  readLockHolder,
  LockedError,
  type Lock,
  type LockHolder,
} from "../io/lock.js";

/** The lock file's name inside a run directory. */
export const RUN_LOCK = "divco.lock";

/** The run directory is in use by another live process. */
export class RunDirBusyError extends LockedError {
  constructor(runDir: string, path: string, holder: LockHolder) {
    super(path, holder, busyMessage(runDir, path, holder));
    this.name = "RunDirBusyError";
  }
}

function busyMessage(runDir: string, path: string, h: LockHolder): string {
  const elsewhere = h.host !== hostname() && h.pid > 0;
  return (
    `run directory ${runDir} is in use by another divco process: ${describeHolder(h)}. ` +
    `Wait for it to end, or stop it (Ctrl-C saves a checkpoint); if that process no longer exists` +
    `${elsewhere ? ` (it ran on host ${h.host}, which cannot be checked from here)` : ""}, remove ${path}`
  );
}

/** The live process holding `runDir`'s lock, if any. */
export function runDirHolder(runDir: string): LockHolder | undefined {
  const h = readLockHolder(join(runDir, RUN_LOCK));
  return h && holderAlive(h) ? h : undefined;
}

/** Throws RunDirBusyError when a live process holds `runDir`. */
export function assertRunDirFree(runDir: string): void {
  const h = runDirHolder(runDir);
  if (h) throw new RunDirBusyError(runDir, join(runDir, RUN_LOCK), h);
}

/** A run directory this process owns until release(). */
export interface RunDirClaim {
  readonly runDir: string;
  readonly lock: Lock;
  release(): void;
  /** Releases, and removes the directories the claim created if nothing else was written into them. */
  abandon(): void;
}

function commandLine(): string {
  const [, script, ...args] = process.argv;
  // The CLI's entry point is main.js (or the npm bin link `divco`): name it as users type it.
  const name = script ? basename(script).replace(/^main\.js$/, "divco") : "node";
  const text = [name, ...args].join(" ");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/**
 * Takes `runDir`'s lock (creating the directory when `create`), replacing a stale lock with a
 * note on `out`. Throws RunDirBusyError when a live process holds it.
 */
export function claimRunDir(
  runDir: string,
  opts: { create: boolean; out?: NodeJS.WritableStream | null },
): RunDirClaim {
  const firstCreated = opts.create ? mkdirSync(runDir, { recursive: true }) : undefined;
  const path = join(runDir, RUN_LOCK);
  let lock: Lock;
  try {
    lock = acquireLock(path, { command: commandLine() });
  } catch (e) {
    if (e instanceof LockedError) throw new RunDirBusyError(runDir, path, e.holder);
    throw e;
  }
  if (lock.tookOverFrom)
    opts.out?.write(
      `divco: ${path} was left by ${describeHolder(lock.tookOverFrom)}, which is no longer running; taking the run directory over\n`,
    );
  const release = () => lock.release();
  const abandon = () => {
    release();
    if (firstCreated === undefined) return;
    // Up from the run directory to the first directory this claim made, while each is empty.
    const stop = resolve(firstCreated);
    for (let d = resolve(runDir); ; d = dirname(d)) {
      if (!existsSync(d) || readdirSync(d).length > 0) return;
      rmdirSync(d);
      if (d === stop) return;
    }
  };
  return { runDir, lock, release, abandon };
}
