// safetensors reader/writer (https://github.com/huggingface/safetensors, format spec).
//
// File layout: u64 little-endian N, then N bytes of UTF-8 JSON header, then the data
// buffer. The header maps each tensor name to {dtype, shape, data_offsets: [begin, end)}
// relative to the data buffer, plus an optional "__metadata__" string→string map.
//
// The writer reproduces the reference (Rust) writer byte for byte: compact JSON with
// "__metadata__" first, tensors ordered by dtype rank descending (wider dtypes first, so
// every tensor is naturally aligned when the buffer is) then by name, and the header
// padded with spaces to a multiple of 8 bytes.
import * as fs from "node:fs";
import { writeFileAtomicWith, writeFileAtomicWithSync, type AtomicWriteOptions } from "./atomic.js";
import { DTYPE_INFO, DTYPES } from "../tensor/dtype.js";
import {
  type DType,
  type TensorRecord,
  itemSize,
  numel,
  shapeProblem,
  validateRecord,
} from "./record.js";

/** Same limit as the reference implementation; a larger header is treated as corrupt. */
export const MAX_HEADER_SIZE = 100_000_000;

const FROM_ST: Record<string, DType> = Object.fromEntries(
  DTYPES.map((d) => [DTYPE_INFO[d].safetensors, d]),
);

/**
 * Position of each dtype in the reference implementation's Dtype enum (which derives Ord);
 * its writer sorts by this, descending. Gaps are dtypes divco does not support (U16, F8...).
 */
const DTYPE_RANK: Record<DType, number> = {
  bool: 0,
  u8: 1,
  i8: 2,
  i16: 5,
  f16: 7,
  bf16: 8,
  i32: 9,
  f32: 11,
  f64: 12,
  i64: 13,
};

export type Metadata = Record<string, string>;

/** Where one tensor lives in the data buffer (offsets relative to its start). */
export interface SafetensorsEntry {
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Tensors in file order (ascending offsets). */
  entries: Map<string, SafetensorsEntry>;
  metadata: Metadata;
  /** Absolute file offset of the data buffer: 8 + header length. */
  dataStart: number;
}

/** An error about a specific safetensors file, and when known a specific tensor in it. */
export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    readonly tensor: string | undefined,
    detail: string,
  ) {
    super(`${file}: ${tensor === undefined ? "" : `tensor ${JSON.stringify(tensor)}: `}${detail}`);
    this.name = "SafetensorsError";
  }
}

export type TensorMap = Map<string, TensorRecord> | Record<string, TensorRecord>;

// ---------------------------------------------------------------------------------------
// Reading

/**
 * Header length N from the first 8 bytes, checked against the file size. `source` names
 * the file in errors.
 */
export function headerLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new SafetensorsError(
      source,
      undefined,
      `file is ${fileSize} bytes, too small to be safetensors`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsError(
      source,
      undefined,
      `header length ${n} exceeds the ${MAX_HEADER_SIZE}-byte limit (not a safetensors file?)`,
    );
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new SafetensorsError(
      source,
      undefined,
      `header length ${len} runs past the end of the ${fileSize}-byte file (truncated?)`,
    );
  }
  return len;
}

/**
 * Parse and validate the JSON header. `dataLength` is the size of the data buffer
 * (file size − 8 − N); every byte of it must belong to exactly one tensor.
 */
export function parseHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  source: string,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(source, undefined, "header is not valid UTF-8");
  }
  if (!text.startsWith("{"))
    throw new SafetensorsError(
      source,
      undefined,
      "header does not start with '{' (not a safetensors file?)",
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      source,
      undefined,
      `header is not valid JSON: ${(e as Error).message}`,
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new SafetensorsError(source, undefined, "header is not a JSON object");
  }

  const metadata: Metadata = {};
  const list: [string, SafetensorsEntry][] = [];
  for (const [name, info] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        throw new SafetensorsError(source, undefined, "__metadata__ must be an object of strings");
      }
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== "string")
          throw new SafetensorsError(
            source,
            undefined,
            `__metadata__[${JSON.stringify(k)}] is not a string`,
          );
        metadata[k] = v;
      }
      continue;
    }
    list.push([name, parseEntry(name, info, source)]);
  }

  // Offsets must tile [0, dataLength) exactly: no gaps (hidden data), no overlaps (aliasing).
  list.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let cursor = 0;
  for (const [name, e] of list) {
    if (e.begin !== cursor) {
      const why =
        e.begin < cursor
          ? "overlaps the previous tensor"
          : "leaves a gap after the previous tensor";
      throw new SafetensorsError(
        source,
        name,
        `data_offsets [${e.begin}, ${e.end}] ${why} (expected begin ${cursor})`,
      );
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(
      source,
      undefined,
      cursor > dataLength
        ? `tensors need ${cursor} data bytes but the file only has ${dataLength} (truncated?)`
        : `data buffer has ${dataLength - cursor} bytes not covered by any tensor`,
    );
  }
  return { entries: new Map(list), metadata, dataStart: 8 + headerBytes.byteLength };
}

function parseEntry(name: string, info: unknown, source: string): SafetensorsEntry {
  const fail = (msg: string): never => {
    throw new SafetensorsError(source, name, msg);
  };
  if (info === null || typeof info !== "object" || Array.isArray(info))
    fail("header entry is not an object");
  const { dtype: stDtype, shape, data_offsets: offs } = info as Record<string, unknown>;
  if (typeof stDtype !== "string") fail("missing dtype");
  const dtype = FROM_ST[stDtype as string];
  if (dtype === undefined) {
    fail(
      `dtype ${JSON.stringify(stDtype)} is not supported (supported: ${Object.keys(FROM_ST).join(", ")})`,
    );
  }
  const bad = shapeProblem(shape);
  if (bad !== null) fail(bad);
  if (
    !Array.isArray(offs) ||
    offs.length !== 2 ||
    !offs.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`data_offsets must be two non-negative integers, got ${JSON.stringify(offs)}`);
  }
  const [begin, end] = offs as [number, number];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`);
  const want = numel(shape as number[]) * itemSize(dtype);
  if (end - begin !== want) {
    fail(
      `${stDtype}${JSON.stringify(shape)} needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { dtype, shape: shape as number[], begin, end };
}

/** Everything in a safetensors file, loaded at once. */
export interface SafetensorsContents {
  tensors: Map<string, TensorRecord>;
  metadata: Metadata;
}

/**
 * Read a whole safetensors file (path) or buffer. Records read from a buffer are views
 * into it (no copy); records read from a file own their bytes. Tensors come in file order.
 */
export function readSafetensors(
  source: string | Uint8Array,
  name = "<buffer>",
): SafetensorsContents {
  if (typeof source === "string") {
    using f = openSafetensors(source);
    const tensors = new Map<string, TensorRecord>();
    for (const key of f.keys()) tensors.set(key, f.get(key));
    return { tensors, metadata: f.metadata };
  }
  const n = headerLength(source, source.byteLength, name);
  const header = parseHeader(source.subarray(8, 8 + n), source.byteLength - 8 - n, name);
  const tensors = new Map<string, TensorRecord>();
  for (const [key, e] of header.entries) {
    tensors.set(key, {
      dtype: e.dtype,
      shape: e.shape,
      data: source.subarray(header.dataStart + e.begin, header.dataStart + e.end),
    });
  }
  return { tensors, metadata: header.metadata };
}

/**
 * A safetensors file opened lazily: only the header is read up front, each tensor's bytes
 * when asked for. Works for files larger than a Node buffer can hold. Close it (or `using`).
 */
export class SafetensorsFile implements Disposable {
  readonly header: SafetensorsHeader;
  private fd: number | undefined;

  constructor(readonly path: string) {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (e) {
      throw new SafetensorsError(path, undefined, `cannot open: ${(e as Error).message}`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      const prefix = readExactly(fd, 0, Math.min(8, size), path);
      const n = headerLength(prefix, size, path);
      this.header = parseHeader(readExactly(fd, 8, n, path), size - 8 - n, path);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.fd = fd;
  }

  get metadata(): Metadata {
    return this.header.metadata;
  }

  /** Tensor names in file order. */
  keys(): string[] {
    return [...this.header.entries.keys()];
  }

  has(name: string): boolean {
    return this.header.entries.has(name);
  }

  /** Dtype, shape and location of a tensor without reading its data. */
  entry(name: string): SafetensorsEntry {
    const e = this.header.entries.get(name);
    if (e === undefined) throw new SafetensorsError(this.path, name, "no such tensor in this file");
    return e;
  }

  /** Read one tensor's bytes from disk. */
  get(name: string): TensorRecord {
    if (this.fd === undefined) throw new SafetensorsError(this.path, name, "file is closed");
    const e = this.entry(name);
    const data = readExactly(this.fd, this.header.dataStart + e.begin, e.end - e.begin, this.path);
    return { dtype: e.dtype, shape: [...e.shape], data };
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Open a safetensors file lazily (header only). */
export function openSafetensors(path: string): SafetensorsFile {
  return new SafetensorsFile(path);
}

function readExactly(fd: number, position: number, length: number, path: string): Uint8Array {
  const buf = new Uint8Array(length);
  let off = 0;
  while (off < length) {
    const n = fs.readSync(fd, buf, off, length - off, position + off);
    if (n === 0)
      throw new SafetensorsError(
        path,
        undefined,
        `unexpected end of file at byte ${position + off}`,
      );
    off += n;
  }
  return buf;
}

// ---------------------------------------------------------------------------------------
// Writing

interface Plan {
  header: Uint8Array;
  order: [string, TensorRecord][];
}

function utf8Compare(a: string, b: string): number {
  // Rust compares strings bytewise in UTF-8, which differs from JS's UTF-16 order for
  // some characters; compare the encoded bytes to match it exactly.
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function plan(tensors: TensorMap, metadata: Metadata | undefined, source: string): Plan {
  const order = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).slice();
  for (const [name, rec] of order) {
    if (name === "__metadata__")
      throw new SafetensorsError(source, name, "this name is reserved for metadata");
    try {
      validateRecord(rec, `tensor ${JSON.stringify(name)}`);
    } catch (e) {
      throw new SafetensorsError(
        source,
        name,
        (e as Error).message.replace(/^tensor "[^"]*": /, ""),
      );
    }
  }
  order.sort((a, b) => DTYPE_RANK[b[1].dtype] - DTYPE_RANK[a[1].dtype] || utf8Compare(a[0], b[0]));

  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort(utf8Compare);
    for (const k of keys) {
      if (typeof metadata[k] !== "string")
        throw new SafetensorsError(
          source,
          undefined,
          `metadata ${JSON.stringify(k)} is not a string`,
        );
    }
    parts.push(
      `"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(",")}}`,
    );
  }
  let offset = 0;
  for (const [name, rec] of order) {
    const end = offset + rec.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${DTYPE_INFO[rec.dtype].safetensors}","shape":[${rec.shape.join(",")}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(",")}}`, "utf8");
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const header = Buffer.alloc(8 + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, order };
}

/** The complete file as one buffer (for small files, tests, or sending elsewhere). */
export function encodeSafetensors(tensors: TensorMap, metadata?: Metadata): Buffer {
  const p = plan(tensors, metadata, "<buffer>");
  return Buffer.concat([p.header, ...p.order.map(([, r]) => r.data)]);
}

/** Write a safetensors file atomically (old file intact on failure). */
export function saveSafetensorsSync(
  path: string,
  tensors: TensorMap,
  metadata?: Metadata,
  opts: AtomicWriteOptions = {},
): void {
  const p = plan(tensors, metadata, path);
  writeFileAtomicWithSync(
    path,
    (write) => {
      write(p.header);
      for (const [, rec] of p.order) write(rec.data);
    },
    opts,
  );
}

/** Async twin of saveSafetensorsSync. */
export async function saveSafetensors(
  path: string,
  tensors: TensorMap,
  metadata?: Metadata,
): Promise<void> {
  const p = plan(tensors, metadata, path);
  await writeFileAtomicWith(path, async (write) => {
    await write(p.header);
    for (const [, rec] of p.order) await write(rec.data);
  });
}
