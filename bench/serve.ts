// `npm run bench:serve`: what dynamic batching buys a served model. Starts `divco serve` on
// 127.0.0.1 with ResNet-29 S=2 (CIFAR-10, seeded initial weights: speed does not depend on
// their values) and drives POST /v1/predict with a 32×32 PNG body from autocannon at 1, 8 and
// 32 concurrent connections, each run bounded in time and in request count. Twice: with
// --max-batch 32 (requests that arrive together share a forward pass) and --max-batch 1 (one
// forward per request). The mean batch size is read from the server's own metrics (the
// divco_serve_batch_size histogram, before and after each run). The server is stopped with
// SIGTERM and must exit 0.
//
// Prints a table on stderr and one JSON object on stdout: {machine, model, settings, results:
// [{max_batch, connections, requests, non_2xx, errors, rps, latency_ms_p50, latency_ms_p99,
// mean_batch}]}. The load generator shares the machine's cores with the server: on a small
// machine its own CPU time is part of what is measured (stated in the JSON).
//
// Options: --duration S (per run, default 10) --amount N (most requests per run, default 20000)
//   --connections 1,8,32 --max-batches 32,1 --max-wait-ms 5 --mode auto --threads T
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";
import sharp from "sharp";
import { create } from "../src/models/index.js";
import { saveTensors } from "../src/io/tensors.js";
import { manualSeed } from "../src/tensor/random.js";
import { machineInfo } from "../src/infer/bench.js";

const { values: a } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    amount: { type: "string", default: "20000" },
    connections: { type: "string", default: "1,8,32" },
    "max-batches": { type: "string", default: "32,1" },
    "max-wait-ms": { type: "string", default: "5" },
    mode: { type: "string", default: "auto" },
    threads: { type: "string", default: String(os.availableParallelism()) },
  },
});
const duration = Number(a.duration);
const amount = Number(a.amount);
const connections = a.connections.split(",").map(Number);
const maxBatches = a["max-batches"].split(",").map(Number);
const MAIN_JS = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "src",
  "cli",
  "main.js",
);
const ARCH = { arch: "resnet29", split: 2, dataset: "cifar10" } as const;

/** The model's weights in a temporary safetensors file (seeded initialisation). */
function writeWeights(dir: string): string {
  manualSeed(0);
  const members = create(ARCH.arch, { split: ARCH.split, dataset: ARCH.dataset });
  try {
    const file = path.join(dir, "resnet29_s2.safetensors");
    saveTensors(file, members.stateDict());
    return file;
  } finally {
    members.dispose();
  }
}

/** A free loopback port (asked of the OS, then released for the server to take). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

interface Server {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** `divco serve` with these settings, once /v2/health/ready answers 200. */
async function startServer(weights: string, maxBatch: number): Promise<Server> {
  const port = await freePort();
  const args = [
    ...[MAIN_JS, "serve", "--weights", weights, "--arch", ARCH.arch],
    ...["--split", String(ARCH.split), "--dataset", ARCH.dataset, "--mode", a.mode],
    ...["--threads", a.threads, "--port", String(port), "--max-batch", String(maxBatch)],
    ...["--max-wait-ms", a["max-wait-ms"], "--max-queue", "64", "--log-level", "warn"],
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`divco serve exited (${child.exitCode}): ${err}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("divco serve: not ready within 120 s");
    }
    try {
      if ((await fetch(`${url}/v2/health/ready`)).status === 200) break;
    } catch {
      // Not listening yet (the model loads, and --mode auto measures, first).
    }
    await sleep(200);
  }
  return { url, child, exited, stderr: () => err };
}

/** The batch-size histogram's running sum and count, from /metrics. */
async function batchTotals(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(name + " "));
    if (!line) throw new Error(`/metrics has no ${name}`);
    return Number(line.slice(name.length + 1));
  };
  return { sum: value("divco_serve_batch_size_sum"), count: value("divco_serve_batch_size_count") };
}

function drive(url: string, body: Buffer, c: number, seconds: number, most: number) {
  return autocannon({
    url: `${url}/v1/predict`,
    method: "POST",
    headers: { "content-type": "image/png" },
    body,
    connections: c,
    duration: seconds,
    // A count bound too (at least one request per connection, as autocannon requires).
    maxOverallRequests: Math.max(most, c),
    timeout: 30,
  });
}

interface Row {
  max_batch: number;
  /** The execution mode the server runs (auto's pick, from /v2/models/NAME). */
  mode: string;
  connections: number;
  requests: number;
  non_2xx: number;
  errors: number;
  rps: number;
  latency_ms_p50: number;
  latency_ms_p99: number;
  mean_batch: number;
}

function table(rows: Row[]): string {
  const head = [
    "max-batch",
    "mode",
    "conns",
    "requests",
    "non-2xx",
    "req/s",
    "p50 ms",
    "p99 ms",
    "mean batch",
  ];
  const lines = rows.map((r) => [
    String(r.max_batch),
    r.mode,
    String(r.connections),
    String(r.requests),
    String(r.non_2xx + r.errors),
    r.rps.toFixed(1),
    r.latency_ms_p50.toFixed(1),
    r.latency_ms_p99.toFixed(1),
    r.mean_batch.toFixed(2),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [head, ...lines].map((l) => l.map((v, i) => v.padStart(w[i])).join("  ")).join("\n");
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "divco-bench-serve-"));
const results: Row[] = [];
try {
  const weights = writeWeights(dir);
  const raw = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31) % 256;
  const png = await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
    .png()
    .toBuffer();
  for (const maxBatch of maxBatches) {
    process.stderr.write(`divco serve ${ARCH.arch} S=${ARCH.split} --max-batch ${maxBatch} …\n`);
    const server = await startServer(weights, maxBatch);
    try {
      const meta = (await (
        await fetch(`${server.url}/v2/models/${ARCH.arch}_s${ARCH.split}`)
      ).json()) as {
        parameters: { mode: string };
      };
      const mode = meta.parameters.mode;
      // Warm-up: first calls pay for allocation and the first connections.
      await drive(server.url, png, 8, 1, 200);
      for (const c of connections) {
        const before = await batchTotals(server.url);
        const r = await drive(server.url, png, c, duration, amount);
        const after = await batchTotals(server.url);
        const row: Row = {
          max_batch: maxBatch,
          mode,
          connections: c,
          requests: r.requests.total,
          non_2xx: r.non2xx,
          errors: r.errors + r.timeouts,
          // Answered requests per second (the 2xx ones; refusals are counted apart).
          rps: +(r["2xx"] / r.duration).toFixed(1),
          latency_ms_p50: r.latency.p50,
          latency_ms_p99: r.latency.p99,
          mean_batch: +((after.sum - before.sum) / Math.max(1, after.count - before.count)).toFixed(
            2,
          ),
        };
        results.push(row);
        process.stderr.write(table([row]).split("\n")[1] + "\n");
      }
    } finally {
      server.child.kill("SIGTERM");
      const code = await server.exited;
      if (code !== 0) throw new Error(`divco serve exited ${code} on SIGTERM: ${server.stderr()}`);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
process.stderr.write(`\n${table(results)}\n`);
console.log(
  JSON.stringify({
    machine: machineInfo(),
    model: { ...ARCH, weights: "seeded initialisation", body: "32×32 PNG, /v1/predict" },
    settings: {
      mode: a.mode,
      threads: Number(a.threads),
      max_wait_ms: Number(a["max-wait-ms"]),
      max_queue: 64,
      duration_s: duration,
      max_requests: amount,
      load_generator: "autocannon in the same machine (shares its cores)",
    },
    results,
  }),
);
