// Atomic file replacement: a reader (or a crash) sees either the complete old file or
// the complete new one, never a torn mix.
//
// Recipe: write into a temp file in the *same directory* (rename is only atomic within
// one file system), fsync it (so the data is on disk before the name points at it),
// rename over the target, then fsync the directory (so the rename itself survives a
// power cut). On any failure — ENOSPC half way, a producer that throws — the temp file
// is removed and the old file is left untouched.
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";

/** Receives the file's bytes in order; may be called any number of times. */
export type ChunkSink = (chunk: Uint8Array) => void;
export type AsyncChunkSink = (chunk: Uint8Array) => Promise<void>;

export interface AtomicWriteOptions {
  /** Permission bits for a new file (default 0o666 minus umask); an existing file keeps its own. */
  mode?: number;
  /**
   * Called once the temp file is complete and fsynced, just before it is renamed over the target
   * (tests kill the process here to check what a crash at that moment leaves).
   */
  beforeRename?: () => void;
}

/** An Error that names the path, keeps the system error code (ENOSPC, EACCES, ...) and its cause. */
export class AtomicWriteError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`cannot write ${path} atomically: ${msg} (the previous file, if any, is unchanged)`, {
      cause,
    });
    this.name = "AtomicWriteError";
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

function existingMode(target: string): number | undefined {
  try {
    return fs.statSync(target).mode & 0o7777;
  } catch {
    return undefined;
  }
}

/** fsync a directory so a rename in it is durable; some file systems refuse, which is harmless. */
function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM" && code !== "ENOTSUP") throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Atomically replace `target` with the bytes `produce` emits through its sink.
 * Streaming through a sink lets large checkpoints be written without first
 * concatenating them into one buffer.
 */
export function writeFileAtomicWithSync(
  target: string,
  produce: (write: ChunkSink) => void,
  opts: AtomicWriteOptions = {},
): void {
  const tmp = tempPathFor(target);
  const mode = existingMode(target) ?? opts.mode ?? 0o666;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx", mode);
    const out = fd;
    produce((chunk) => {
      let off = 0;
      // writeSync may write less than asked (e.g. near a quota): loop until done.
      while (off < chunk.byteLength) off += fs.writeSync(out, chunk, off, chunk.byteLength - off);
    });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    opts.beforeRename?.();
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing; the original error is the one to report */
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* the temp may never have been created */
    }
    throw new AtomicWriteError(target, e);
  }
  try {
    fsyncDirSync(path.dirname(target));
  } catch (e) {
    // The new file is in place; only its durability across a power cut is in doubt.
    throw new AtomicWriteError(target, e);
  }
}

/** Atomically replace `target` with `data` (one buffer or several, concatenated). */
export function writeFileAtomicSync(
  target: string,
  data: Uint8Array | readonly Uint8Array[],
  opts: AtomicWriteOptions = {},
): void {
  const chunks = data instanceof Uint8Array ? [data] : data;
  writeFileAtomicWithSync(target, (write) => chunks.forEach(write), opts);
}

/** Async twin of writeFileAtomicWithSync: does not block the event loop on disk I/O. */
export async function writeFileAtomicWith(
  target: string,
  produce: (write: AsyncChunkSink) => Promise<void>,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const tmp = tempPathFor(target);
  const mode = existingMode(target) ?? opts.mode ?? 0o666;
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, "wx", mode);
    const out = fh;
    await produce(async (chunk) => {
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await out.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    });
    await fh.sync();
    await fh.close();
    fh = undefined;
    opts.beforeRename?.();
    await fsp.rename(tmp, target);
  } catch (e) {
    if (fh !== undefined) await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw new AtomicWriteError(target, e);
  }
  try {
    fsyncDirSync(path.dirname(target));
  } catch (e) {
    throw new AtomicWriteError(target, e);
  }
}

/** Async twin of writeFileAtomicSync. */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | readonly Uint8Array[],
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const chunks = data instanceof Uint8Array ? [data] : data;
  await writeFileAtomicWith(
    target,
    async (write) => {
      for (const c of chunks) await write(c);
    },
    opts,
  );
}
