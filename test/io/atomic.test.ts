// Atomic file writes: replacement, temp-file cleanup, a failing writer (ENOSPC) leaves the old file.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  AtomicWriteError,
  writeFileAtomic,
  writeFileAtomicSync,
  writeFileAtomicWith,
  writeFileAtomicWithSync,
} from "../../src/io/index.js";
import { tmpDir } from "./helpers.js";

const enc = (s: string) => new TextEncoder().encode(s);

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
}

test("creates and replaces files, leaving no temp files", async () => {
  const dir = tmpDir();
  const f = path.join(dir, "ckpt.bin");
  writeFileAtomicSync(f, enc("one"));
  assert.equal(fs.readFileSync(f, "utf8"), "one");
  writeFileAtomicSync(f, [enc("tw"), enc("o")]);
  assert.equal(fs.readFileSync(f, "utf8"), "two");
  await writeFileAtomic(f, enc("three"));
  assert.equal(fs.readFileSync(f, "utf8"), "three");
  assert.deepEqual(fs.readdirSync(dir), ["ckpt.bin"]);
});

test("a writer failing midway (ENOSPC) leaves the old file intact and removes the temp", () => {
  const dir = tmpDir();
  const f = path.join(dir, "last.safetensors");
  fs.writeFileSync(f, "old contents");
  const err = (() => {
    try {
      writeFileAtomicWithSync(f, (write) => {
        write(enc("half of the new "));
        throw enospc();
      });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof AtomicWriteError);
  assert.equal(err.code, "ENOSPC");
  assert.equal(err.path, f);
  assert.match(err.message, new RegExp(`${f.replace(/[.]/g, "\\.")}.*ENOSPC.*unchanged`));
  assert.equal(fs.readFileSync(f, "utf8"), "old contents");
  assert.deepEqual(fs.readdirSync(dir), ["last.safetensors"]);
});

test("async writer failing midway leaves the old file intact", async () => {
  const dir = tmpDir();
  const f = path.join(dir, "best.bin");
  fs.writeFileSync(f, "old");
  await assert.rejects(
    writeFileAtomicWith(f, async (write) => {
      await write(enc("partial"));
      throw enospc();
    }),
    (e: unknown) => e instanceof AtomicWriteError && e.code === "ENOSPC" && e.message.includes(f),
  );
  assert.equal(fs.readFileSync(f, "utf8"), "old");
  assert.deepEqual(fs.readdirSync(dir), ["best.bin"]);
});

test("a missing directory gives an error naming the path", () => {
  const f = path.join(tmpDir(), "no", "such", "dir", "x.bin");
  assert.throws(
    () => writeFileAtomicSync(f, enc("x")),
    (e: unknown) => e instanceof AtomicWriteError && e.code === "ENOENT" && e.message.includes(f),
  );
});

test("replacing keeps the existing file's permissions", () => {
  const f = path.join(tmpDir(), "m.bin");
  fs.writeFileSync(f, "a");
  fs.chmodSync(f, 0o640);
  writeFileAtomicSync(f, enc("b"));
  assert.equal(fs.statSync(f).mode & 0o777, 0o640);
});
