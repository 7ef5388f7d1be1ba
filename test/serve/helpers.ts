// Shared by the serving tests: the committed ResNet-29 fixture (S=2, --extra width=4,
// CIFAR-10) as a loaded ensemble, test images, a server on an ephemeral loopback port closed
// in `finally`, and small HTTP helpers over fetch.
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { pino } from "pino";
import { Ensemble } from "../../src/infer/predictor.js";
import { createServer, type ServeOptions, type DivcoServer } from "../../src/serve/server.js";
import type { ServedModel } from "../../src/serve/model.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const MODEL_FILE = path.join(ROOT, "test", "fixtures", "models", "resnet29_s2_w4.pth");
export const MAIN_JS = path.join(ROOT, "dist", "src", "cli", "main.js");
/** `divco serve` flags for the fixture. */
export const MODEL_FLAGS = [
  ...["--weights", MODEL_FILE, "--arch", "resnet29", "--split", "2"],
  ...["--dataset", "cifar10", "--extra", "width=4"],
];

export function loadFixture(): Promise<Ensemble> {
  return Ensemble.load(
    { weights: MODEL_FILE, arch: "resnet29", split: 2, dataset: "cifar10", extra: { width: 4 } },
    { mode: "sequential" },
  );
}

/** A deterministic w×h RGB test image, distinct per seed. */
export function image(format: "png" | "jpeg", seed = 0, w = 32, h = 32): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97) % 256;
  const s = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  return (format === "png" ? s.png() : s.jpeg()).toBuffer();
}

/** Runs `fn` against a fresh server for `model` on 127.0.0.1 (any free port), closed after. */
export async function withServer<T>(
  model: ServedModel,
  o: ServeOptions,
  fn: (url: string, server: DivcoServer) => Promise<T>,
): Promise<T> {
  const server = await createServer(model, { logger: pino({ level: "silent" }), ...o });
  try {
    const url = await server.listen({ host: "127.0.0.1", port: 0 });
    return await fn(url, server);
  } finally {
    await server.close();
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A request whose JSON answer is read (every answer of the server is JSON but /metrics). */
export async function call(url: string, init?: RequestInit): Promise<Reply> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(
      `${init?.method ?? "GET"} ${url}: ${r.status}, not JSON: ${text.slice(0, 200)}`,
    );
  }
  return { status: r.status, headers: r.headers, body };
}

export const postImage = (url: string, bytes: Buffer, type = "image/png") =>
  call(url, { method: "POST", headers: { "content-type": type }, body: bytes });

export const postJson = (url: string, doc: unknown) =>
  call(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof doc === "string" ? doc : JSON.stringify(doc),
  });

/** A multipart/form-data body of files (name → bytes) and plain fields. */
export function form(files: Record<string, Buffer>, fields: Record<string, string> = {}): FormData {
  const fd = new FormData();
  for (const [name, bytes] of Object.entries(files))
    fd.append(name.replace(/\..*$/, ""), new Blob([bytes], { type: "image/png" }), name);
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return fd;
}

/** The value of a metric line `name{labels} value` in Prometheus text (0 when absent). */
export function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}
