// An exclusive lock file: one live process at a time may hold it. Taking it is one atomic
// create (open with O_CREAT|O_EXCL, "wx"), never a check followed by a create, so of two
// processes that try at the same moment exactly one succeeds. The file says who holds it
// (pid, host, start time, command), so the loser can name the holder.
//
// A holder that dies without releasing (kill -9, a power cut) leaves the file behind. Such a
// lock is stale when its host is this host and its pid is no longer running (or now belongs to
// a process started at another time: pids are reused). A stale lock is taken over by moving it
// aside with rename (atomic: of several processes that try, one gets the file), checking that
// what was moved is the stale lock that was examined, and then creating a fresh one with "wx".
// A lock from another host is never presumed stale: its process cannot be checked from here.
//
// The holder's own process removes the file on release() and, as a last resort, on exit
// (process.exit, an uncaught error): a lock is never left by a process that ends normally.
import * as fs from "node:fs";
import * as os from "node:os";
import { randomBytes } from "node:crypto";

/** Who holds a lock: written into the lock file as JSON. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** What the holder is doing, for the message a second process prints ("divco train ..."). */
  command: string;
  /** The holder process's start time in clock ticks since boot (Linux /proc), to detect pid reuse. */
  processStart?: number;
  /** Tells this lock apart from a later one by the same pid. */
  nonce: string;
}

/** The lock is held by another live process (or one on another host). */
export class LockedError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    message: string,
  ) {
    super(message);
    this.name = "LockedError";
  }
}

/** A lock this process holds. */
export interface Lock {
  readonly path: string;
  readonly holder: LockHolder;
  /** The stale lock this one replaced, if any. */
  readonly tookOverFrom?: LockHolder;
  /** Removes the lock file (when it is still this lock's); further calls do nothing. */
  release(): void;
}

/** "pid 123 on host h since 2025-01-01T00:00:00.000Z (divco train ...)" */
export function describeHolder(h: LockHolder): string {
  if (h.pid <= 0) return `${h.command} (the lock file, modified ${h.since}, names no holder)`;
  return `pid ${h.pid} on host ${h.host} since ${h.since}${h.command ? ` (${h.command})` : ""}`;
}

/** The start time of process `pid` in clock ticks since boot, where /proc has it (Linux). */
function processStartTime(pid: number | "self"): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (the command) is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]); // field 22 of the whole line
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the holder may still be running: certainly so for another host (it cannot be checked). */
export function holderAlive(h: LockHolder): boolean {
  if (h.pid <= 0) return h.pid === UNREADABLE_FRESH;
  if (h.host !== os.hostname()) return true;
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const start = processStartTime(h.pid);
  return h.processStart === undefined || start === undefined || start === h.processStart;
}

// The pid recorded for a lock file without readable content: its writer died between creating
// and writing it (stale), unless the file is new enough that the writer may be writing it now.
const UNREADABLE_STALE = 0;
const UNREADABLE_FRESH = -1;
const WRITING_GRACE_MS = 5000;

/** The holder recorded in a lock file; undefined when there is none (or it vanished meanwhile). */
export function readLockHolder(path: string): LockHolder | undefined {
  let text: string;
  let mtimeMs: number;
  try {
    text = fs.readFileSync(path, "utf8");
    mtimeMs = fs.statSync(path).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (Number.isInteger(h.pid) && h.pid > 0 && typeof h.host === "string") return h;
  } catch {
    /* not JSON: see below */
  }
  const fresh = Date.now() - mtimeMs < WRITING_GRACE_MS;
  return {
    pid: fresh ? UNREADABLE_FRESH : UNREADABLE_STALE,
    host: os.hostname(),
    since: new Date(mtimeMs).toISOString(),
    command: fresh ? "a process that is creating it right now" : "a process that died creating it",
    nonce: `unreadable:${text}`,
  };
}

export interface AcquireOptions {
  /** What the holder is doing, recorded for others to read (default: this process's command line). */
  command?: string;
  /** Builds the error thrown when a live process holds the lock (default: a generic message). */
  lockedMessage?(holder: LockHolder, path: string): string;
}

/**
 * Takes the lock file at `path` (its directory must exist), replacing a stale one. Throws
 * LockedError when a live process (or one on another host) holds it.
 */
export function acquireLock(path: string, opts: AcquireOptions = {}): Lock {
  const holder: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    since: new Date().toISOString(),
    command: opts.command ?? process.argv.slice(1).join(" "),
    processStart: processStartTime("self"),
    nonce: randomBytes(8).toString("hex"),
  };
  const body = JSON.stringify(holder) + "\n";
  let tookOverFrom: LockHolder | undefined;
  // Each turn either creates the lock, or finds a live holder (throws), or removes a stale one
  // (and tries again); a few turns cover other processes racing for the same stale lock.
  for (let attempt = 0; attempt < 20; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(path, "wx", 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const current = readLockHolder(path);
      if (current === undefined) continue; // released meanwhile
      if (holderAlive(current)) {
        const msg =
          opts.lockedMessage?.(current, path) ?? `${path} is held by ${describeHolder(current)}`;
        throw new LockedError(path, current, msg);
      }
      if (removeIfStill(path, current)) tookOverFrom = current;
      continue;
    }
    try {
      fs.writeSync(fd, body);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return held(path, holder, tookOverFrom);
  }
  throw new Error(`cannot take the lock ${path}: other processes keep replacing it`);
}

/**
 * Removes the lock file at `path` if it still holds `stale` (checked after moving it aside, so
 * a fresh lock someone created meanwhile is put back, not deleted). Returns whether it removed it.
 */
function removeIfStill(path: string, stale: LockHolder): boolean {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    fs.renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false; // another process moved it
    throw e;
  }
  const moved = readLockHolder(aside);
  if (moved !== undefined && moved.nonce !== stale.nonce) {
    // A live lock replaced the stale one between our read and our rename: restore it. link
    // fails rather than overwrite if yet another lock appeared in that instant.
    try {
      fs.linkSync(aside, path);
    } catch {
      /* EEXIST: a third process holds it now; the restored one would only duplicate it */
    }
    fs.rmSync(aside, { force: true });
    return false;
  }
  fs.rmSync(aside, { force: true });
  return true;
}

function held(path: string, holder: LockHolder, tookOverFrom: LockHolder | undefined): Lock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    // Only our own lock is removed: after a takeover by someone who judged us dead (another
    // host's clock, a reused pid), theirs stays.
    if (readLockHolder(path)?.nonce === holder.nonce) fs.rmSync(path, { force: true });
  };
  process.on("exit", release);
  return { path, holder, tookOverFrom, release };
}
