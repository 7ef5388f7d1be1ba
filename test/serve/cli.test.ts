// `divco serve` as a process: SIGTERM while a request is in flight (its body half received)
// refuses new connections, still takes and answers that request, and exits 0; afterwards
// nothing listens. Usage errors exit 2, a model that cannot load or a port in use exit 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { runServe } from "../../src/cli/serve.js";
import type { Out } from "../../src/cli/args.js";
import { MAIN_JS, MODEL_FLAGS, image, metric } from "./helpers.js";

async function runCaptured(argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out: Out = { log: (s) => stdout.push(s), err: (s) => stderr.push(s) };
  const code = await runServe(argv, out);
  return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
}

interface LogLine {
  msg: string;
  url?: string;
  reqId?: string;
  req?: { url: string };
  res?: { statusCode: number };
}

test(
  "SIGTERM with a request in flight: the request is answered, then exit 0",
  { timeout: 90_000 },
  async () => {
    const child = spawn(
      process.execPath,
      [
        MAIN_JS,
        "serve",
        ...MODEL_FLAGS,
        ...["--mode", "sequential", "--port", "0", "--max-batch", "8"],
      ],
      { env: { ...process.env, DIVCO_NUM_THREADS: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const logs: LogLine[] = [];
    let stderr = "";
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    try {
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      let rest = "";
      const listening = new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          const lines = (rest + d.toString()).split("\n");
          rest = lines.pop()!;
          for (const l of lines) {
            const j = JSON.parse(l) as LogLine;
            logs.push(j);
            if (j.msg === "listening") resolve(j.url!);
          }
        });
        void exited.then(() => reject(new Error(`divco serve exited before listening: ${stderr}`)));
      });
      const url = await listening;
      const png = await image("png", 1);
      // A request in flight: its body half sent when SIGTERM comes, the rest after.
      const req = http.request(`${url}/v1/predict`, {
        method: "POST",
        headers: { "content-type": "image/png", "content-length": png.length },
      });
      const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
        req.on("response", (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode!, body }));
        });
        req.on("error", reject);
      });
      req.write(png.subarray(0, 100));
      for (;;) {
        const text = await (await fetch(`${url}/metrics`)).text();
        if (metric(text, "divco_serve_requests_in_flight") === 1) break;
        await sleep(20);
      }
      child.kill("SIGTERM");
      while (!logs.some((l) => l.msg === "signal received")) await sleep(10);
      // Shutting down: new connections are soon refused; the request in flight is still taken.
      for (;;) {
        const refused = await fetch(`${url}/v2/health/live`).then(
          () => false,
          () => true,
        );
        if (refused) break;
        await sleep(10);
      }
      req.end(png.subarray(100));
      const r = await reply;
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as { predictions: unknown[] }).predictions.length, 1);
      assert.deepEqual(await exited, { code: 0, signal: null }, stderr);
      assert.equal(stderr, "");
      // In the log: the signal came before the request was answered, and the shutdown finished.
      const at = (pred: (l: LogLine) => boolean) => logs.findIndex(pred);
      const predictId = logs.find((l) => l.req?.url === "/v1/predict")?.reqId;
      const signal = at((l) => l.msg === "signal received");
      const answered = at((l) => l.reqId === predictId && l.res?.statusCode === 200);
      assert.ok(signal >= 0 && signal < answered, JSON.stringify(logs.map((l) => l.msg)));
      assert.ok(at((l) => l.msg === "shut down") > signal);
      await assert.rejects(fetch(`${url}/v2/health/live`));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  },
);

test(
  "divco serve: usage errors exit 2, a model that cannot load or a port in use exit 1",
  { timeout: 60_000 },
  async () => {
    const usage: [string[], RegExp][] = [
      [[], /give --run DIR, or --weights W with --arch and --split/],
      [[...MODEL_FLAGS, "--max-batch", "0"], /--max-batch takes a positive integer, got "0"/],
      [[...MODEL_FLAGS, "--max-wait-ms", "-1"], /--max-wait-ms takes an integer ≥ 0, got "-1"/],
      [[...MODEL_FLAGS, "--port", "70000"], /--port must be at most 65535/],
      [[...MODEL_FLAGS, "--log-level", "loud"], /--log-level must be one of fatal, error/],
      [[...MODEL_FLAGS, "--body-limit-mb", "0"], /--body-limit-mb takes a positive number/],
      [
        [...MODEL_FLAGS, "--mode", "sequential", "--name", "a/b"],
        /model name "a\/b" must be letters/,
      ],
    ];
    for (const [argv, message] of usage) {
      const r = await runCaptured(argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^divco serve: .*\(see divco serve --help\)$/);
    }
    const noWeights = await runCaptured([
      ...MODEL_FLAGS.map((f) => (f.endsWith(".pth") ? "/nonexistent/w.pth" : f)),
      ...["--mode", "sequential"],
    ]);
    assert.equal(noWeights.code, 1);
    assert.match(noWeights.stderr, /^divco serve: \/nonexistent\/w\.pth: no such file/);

    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const port = String((busy.address() as net.AddressInfo).port);
      const r = await runCaptured([
        ...MODEL_FLAGS,
        ...["--mode", "sequential", "--port", port, "--log-level", "silent"],
      ]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`^divco serve: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      busy.close();
    }
  },
);
