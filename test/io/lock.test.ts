// The exclusive lock file (src/io/lock.ts): one holder at a time, even among processes started
// together; a holder's message names it; released on release() and on process.exit; a lock left
// by a killed process (or a reused pid, or a writer that died mid-create) is stale and taken over.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  acquireLock,
  readLockHolder,
  holderAlive,
  LockedError,
  type LockHolder,
} from "../../src/io/lock.js";

const LOCK_JS = fileURLToPath(new URL("../../src/io/lock.js", import.meta.url));

function tmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "divco-lock-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid of a process that has exited (so, for a moment at least, no process has it). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(r.stdout.toString());
}

function holder(over: Partial<LockHolder>): LockHolder {
  return {
    pid: process.pid,
    host: os.hostname(),
    since: "2020-01-01T00:00:00.000Z",
    command: "test",
    nonce: "n0",
    ...over,
  };
}

test("one holder at a time; the second is told who holds it; release frees it", () => {
  const file = path.join(tmp(), "x.lock");
  const a = acquireLock(file, { command: "divco train --run-dir r" });
  assert.deepEqual(readLockHolder(file), a.holder);
  assert.equal(a.holder.pid, process.pid);
  assert.throws(
    () => acquireLock(file),
    (e: unknown) =>
      e instanceof LockedError &&
      e.holder.nonce === a.holder.nonce &&
      e.message.includes(`pid ${process.pid} on host ${os.hostname()} since ${a.holder.since}`) &&
      e.message.includes("divco train --run-dir r"),
  );
  a.release();
  assert.ok(!fs.existsSync(file));
  a.release(); // a second release does nothing
  const b = acquireLock(file);
  assert.equal(b.tookOverFrom, undefined);
  b.release();
});

test("a stale lock (dead pid, reused pid, writer died mid-create) is taken over; another host's is not", () => {
  const dir = tmp();
  const file = path.join(dir, "x.lock");
  const cases: [string, string][] = [
    ["dead pid", JSON.stringify(holder({ pid: deadPid(), nonce: "dead" }))],
    // Our own pid, but recorded with another start time: the pid was reused.
    ["reused pid", JSON.stringify(holder({ processStart: -5, nonce: "reused" }))],
    ["empty file, old", ""],
  ];
  for (const [what, content] of cases) {
    fs.writeFileSync(file, content);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    assert.equal(holderAlive(readLockHolder(file)!), false, what);
    const l = acquireLock(file);
    assert.ok(l.tookOverFrom, `${what}: took over`);
    assert.deepEqual(readLockHolder(file), l.holder, what);
    l.release();
  }
  assert.deepEqual(fs.readdirSync(dir), [], "nothing left beside the lock (no moved-aside files)");

  fs.writeFileSync(file, "");
  assert.throws(() => acquireLock(file), /creating it right now/, "a fresh empty file is live");
  fs.writeFileSync(file, JSON.stringify(holder({ host: "elsewhere.example", pid: 1 })));
  assert.throws(
    () => acquireLock(file),
    (e: unknown) => e instanceof LockedError && e.holder.host === "elsewhere.example",
  );
});

/** Runs `code` (ESM, with acquireLock in scope) in a child process. */
function child(code: string, args: string[] = []) {
  const src = `import { acquireLock } from ${JSON.stringify(LOCK_JS)};\n${code}`;
  return spawn(process.execPath, ["--input-type=module", "-e", src, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
}

type Child = ReturnType<typeof child>;

/** The child's first line of output. */
function firstLine(p: Child): Promise<string> {
  let out = "";
  return new Promise((resolve) => {
    const done = () => resolve(out.split("\n")[0]);
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) done();
    });
    p.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    p.on("close", done);
  });
}

function finished(p: Child): Promise<{ code: number | null; out: string }> {
  let out = "";
  p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => p.on("close", (code) => resolve({ code, out })));
}

test("process.exit releases the lock; kill -9 leaves a stale one that the next taker replaces", async () => {
  const dir = tmp();
  const file = path.join(dir, "x.lock");
  const exited = await finished(child(`acquireLock(process.argv[1]); process.exit(3);`, [file]));
  assert.equal(exited.code, 3, exited.out);
  assert.ok(!fs.existsSync(file), "released by the exit hook");

  const killed = child(
    `acquireLock(process.argv[1]); process.stdout.write("held\\n"); setInterval(() => {}, 1000);`,
    [file],
  );
  await new Promise<void>((resolve) => killed.stdout!.once("data", () => resolve()));
  const left = readLockHolder(file)!;
  assert.equal(left.pid, killed.pid);
  assert.throws(() => acquireLock(file), LockedError, "held while the child lives");
  killed.kill("SIGKILL");
  await new Promise((resolve) => killed.on("close", resolve));
  assert.ok(fs.existsSync(file), "kill -9 runs no hook");
  const l = acquireLock(file);
  assert.equal(l.tookOverFrom?.nonce, left.nonce);
  l.release();
});

test("processes racing for one lock, free or stale: exactly one gets it", async () => {
  const dir = tmp();
  for (const start of ["free", "stale"]) {
    const file = path.join(dir, `${start}.lock`);
    if (start === "stale") fs.writeFileSync(file, JSON.stringify(holder({ pid: deadPid() })));
    // Each racer tries once and reports; the winner holds the lock until its stdin closes,
    // which happens only after every racer has reported, so no late starter finds it free.
    const racers = Array.from({ length: 6 }, () =>
      child(
        `try { acquireLock(process.argv[1]); console.log("got"); process.stdin.resume(); }
         catch (e) { console.log("refused: " + e.message); process.exit(0); }`,
        [file],
      ),
    );
    const closed = racers.map((r) => new Promise((resolve) => r.on("close", resolve)));
    const lines = await Promise.all(racers.map(firstLine));
    for (const r of racers) r.stdin!.end();
    await Promise.all(closed);
    assert.equal(lines.filter((l) => l === "got").length, 1, `${start}: ${lines.join(" | ")}`);
    for (const l of lines.filter((x) => x !== "got"))
      assert.match(l, /^refused: .* is held by pid \d+ on host /);
    assert.ok(!fs.existsSync(file), `${start}: the winner released it on exit`);
  }
});
