// `divco data get`: download an official archive, verify its published MD5,
// extract it with the npm `tar` package and move the result into place
// atomically (extract into a temporary directory on the same filesystem,
// validate, then rename), so an interrupted or failed download never leaves
// a half-written dataset behind.
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { DataError } from "./errors.js";
import { defaultDataRoot } from "./paths.js";
import { checkCifar, type CifarSpec } from "./cifar.js";

export interface GetOptions {
  /** Root directory; the archive's folder is created inside it. Default: the data cache root. */
  dir?: string;
  /** Use an already downloaded archive instead of the network. */
  archive?: string;
  /** Progress messages. */
  log?: (msg: string) => void;
  /** Seconds to wait for the server to answer (default 30). */
  timeoutSeconds?: number;
}

export interface GetResult {
  dir: string;
  status: "downloaded" | "extracted" | "present";
}

export async function getCifar(spec: CifarSpec, opts: GetOptions = {}): Promise<GetResult> {
  const root = path.resolve(opts.dir ?? defaultDataRoot());
  const log = opts.log ?? (() => undefined);
  const target = path.join(root, spec.folder);
  if (checkCifar(spec, target).files.every((f) => f.ok)) return { dir: target, status: "present" };
  fs.mkdirSync(root, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(root, `.divco-${spec.name}-`));
  try {
    const archive = opts.archive
      ? path.resolve(opts.archive)
      : path.join(tmp, path.basename(new URL(spec.url).pathname));
    if (opts.archive) {
      if (!fs.existsSync(archive)) throw new DataError("missing", `archive ${archive} not found`);
    } else {
      log(`downloading ${spec.url} → ${root}`);
      await download(spec.url, archive, root, spec.folder, opts.timeoutSeconds ?? 30, log);
    }
    const md5 = await fileMd5(archive);
    if (md5 !== spec.md5) {
      throw new DataError(
        "checksum",
        `${opts.archive ? archive : spec.url}: MD5 ${md5} does not match the published ${spec.md5} (corrupt or incomplete download); nothing was installed`,
      );
    }
    log(`MD5 ok (${md5}); extracting`);
    const extractDir = path.join(tmp, "extract");
    fs.mkdirSync(extractDir);
    try {
      await tar.x({ file: archive, cwd: extractDir, strict: true });
    } catch (e) {
      throw new DataError("corrupt", `${archive}: cannot extract (${(e as Error).message})`);
    }
    const extracted = path.join(extractDir, spec.folder);
    const check = checkCifar(spec, extracted);
    const bad = check.files.filter((f) => !f.ok);
    if (bad.length > 0)
      throw new DataError(
        "corrupt",
        `${archive} did not contain a valid ${spec.folder}/: ${bad.map((f) => `${path.basename(f.file)}: ${f.problem}`).join("; ")}`,
      );
    // Swap into place: an old incomplete copy is moved aside first, then removed.
    if (fs.existsSync(target)) fs.renameSync(target, path.join(tmp, "previous"));
    fs.renameSync(extracted, target);
    return { dir: target, status: opts.archive ? "extracted" : "downloaded" };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function download(
  url: string,
  dest: string,
  root: string,
  folder: string,
  timeoutSeconds: number,
  log: (m: string) => void,
): Promise<void> {
  const offlineHint = `Offline? Download ${url} on another machine, then run \`divco data get <name> --archive <file> --dir ${root}\` or extract it so that ${path.join(root, folder)} exists.`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutSeconds * 1000) });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.cause?.code ?? err.cause?.message ?? err.message;
    throw new DataError("network", `could not download ${url} (${why}). ${offlineHint}`);
  }
  if (!res.ok || !res.body)
    throw new DataError("network", `could not download ${url}: HTTP ${res.status}. ${offlineHint}`);
  const total = Number(res.headers.get("content-length") ?? 0);
  let received = 0;
  let lastReport = 0;
  const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received - lastReport > 16 * 1024 * 1024) {
      lastReport = received;
      log(
        `  ${(received / 1e6).toFixed(0)} MB${total ? ` of ${(total / 1e6).toFixed(0)} MB` : ""}`,
      );
    }
  });
  try {
    await pipeline(body, fs.createWriteStream(dest));
  } catch (e) {
    throw new DataError(
      "network",
      `download of ${url} broke off after ${received} bytes (${(e as Error).message}). ${offlineHint}`,
    );
  }
  if (total && received !== total)
    throw new DataError(
      "network",
      `download of ${url} ended after ${received} of ${total} bytes. ${offlineHint}`,
    );
}

export async function fileMd5(file: string): Promise<string> {
  const hash = crypto.createHash("md5");
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest("hex");
}
