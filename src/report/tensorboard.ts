// TensorBoard event files, written and read without TensorFlow or a protobuf library.
//
// An event file is a sequence of TFRecords (see tfrecord.ts), each holding one serialized
// `tensorboard.Event` protobuf (tensorboard/compat/proto/event.proto, summary.proto). We only
// need a handful of fields, so they are hand-encoded here:
//
//   Event        { double wall_time = 1; int64 step = 2; string file_version = 3;
//                  Summary summary = 5; SessionLog session_log = 7; }
//   Summary      { repeated Value value = 1; }
//   Value        { string tag = 1; float simple_value = 2; TensorProto tensor = 8; }
//   SessionLog   { SessionStatus status = 1; }            // START = 1
//
// Scalars are written as `simple_value` (float32, as TensorBoard stores them anyway); the
// reader also understands one-element float/double `tensor` values, the form TF2 and
// `SummaryWriter(..., new_style=True)` write.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { frameRecord, parseRecords } from "./tfrecord.js";

// ---------------------------------------------------------------- protobuf wire format

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Appends protobuf fields to a growing list of byte chunks. */
class ProtoWriter {
  private chunks: Buffer[] = [];

  private key(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  private varint(v: bigint): void {
    // int64 negatives are sent as their 64-bit two's complement: always 10 bytes.
    let u = BigInt.asUintN(64, v);
    const bytes: number[] = [];
    do {
      let b = Number(u & 0x7fn);
      u >>= 7n;
      if (u !== 0n) b |= 0x80;
      bytes.push(b);
    } while (u !== 0n);
    this.chunks.push(Buffer.from(bytes));
  }

  int64(field: number, v: number): this {
    this.key(field, WIRE_VARINT);
    this.varint(BigInt(v));
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, WIRE_FIXED64);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.chunks.push(b);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, WIRE_FIXED32);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.chunks.push(b);
    return this;
  }

  bytes(field: number, v: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.varint(BigInt(v.length));
    this.chunks.push(Buffer.from(v));
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, "utf8"));
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

interface ProtoField {
  field: number;
  wire: number;
  /** varint as bigint; fixed64/fixed32/len as the raw bytes. */
  varint?: bigint;
  data?: Buffer;
}

/** Decodes one message level into its fields; unknown fields are kept for the caller to skip. */
function decodeFields(buf: Buffer, what: string): ProtoField[] {
  const out: ProtoField[] = [];
  let off = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (off >= buf.length || shift > 63n) throw new Error(`${what}: malformed varint`);
      const b = buf[off++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  const take = (n: number): Buffer => {
    if (off + n > buf.length) throw new Error(`${what}: field runs past the end of the message`);
    const d = buf.subarray(off, off + n);
    off += n;
    return d;
  };
  while (off < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === WIRE_VARINT) out.push({ field, wire, varint: readVarint() });
    else if (wire === WIRE_FIXED64) out.push({ field, wire, data: take(8) });
    else if (wire === WIRE_FIXED32) out.push({ field, wire, data: take(4) });
    else if (wire === WIRE_LEN) out.push({ field, wire, data: take(Number(readVarint())) });
    else throw new Error(`${what}: unsupported wire type ${wire} for field ${field}`);
  }
  return out;
}

// ---------------------------------------------------------------- Event encoding

const FILE_VERSION = "brain.Event:2";
const SESSION_START = 1;

function eventHeader(wallTime: number, step: number): ProtoWriter {
  const w = new ProtoWriter().double(1, wallTime);
  // proto3 omits default values; TensorBoard reads an absent step as 0 either way.
  if (step !== 0) w.int64(2, step);
  return w;
}

function encodeFileVersion(wallTime: number): Buffer {
  return eventHeader(wallTime, 0).string(3, FILE_VERSION).finish();
}

function encodeScalar(tag: string, value: number, step: number, wallTime: number): Buffer {
  const summaryValue = new ProtoWriter().string(1, tag).float(2, value).finish();
  const summary = new ProtoWriter().bytes(1, summaryValue).finish();
  return eventHeader(wallTime, step).bytes(5, summary).finish();
}

function encodeSessionStart(step: number, wallTime: number): Buffer {
  const sessionLog = new ProtoWriter().int64(1, SESSION_START).finish();
  return eventHeader(wallTime, step).bytes(7, sessionLog).finish();
}

// ---------------------------------------------------------------- writer

/** Per-process file counter: two writers opened in the same second still get distinct names. */
let filesOpened = 0;

export interface EventWriterOptions {
  /** Buffered bytes that trigger a write before the next flush() (default 1 MiB). */
  maxPendingBytes?: number;
  /** Clock in seconds since the epoch, for default wall times and the file name (tests). */
  now?: () => number;
  /** If given, calls sessionStart(startStep) right after opening. */
  startStep?: number;
}

/**
 * Appends scalar events to a new `events.out.tfevents.<secs>.<host>.<pid>.<n>` file in `dir`.
 *
 * Each writer makes its own file (opened exclusively, never appended to): TensorBoard merges
 * every event file in a run directory, so a resumed run simply adds a file and calls
 * sessionStart(resume step) so TensorBoard drops the crashed run's points past it. Use one
 * writer per run directory at a time. Records are buffered in memory and written by flush() (call it once an epoch) or
 * close(); every write is whole records, so a crash loses at most the unflushed tail.
 */
export class EventWriter {
  readonly path: string;
  private fd: number | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly maxPendingBytes: number;
  private readonly now: () => number;

  constructor(dir: string, opts: EventWriterOptions = {}) {
    this.maxPendingBytes = opts.maxPendingBytes ?? 1 << 20;
    this.now = opts.now ?? (() => Date.now() / 1000);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new Error(
        `cannot create the TensorBoard log directory ${dir}: ${(e as Error).message}`,
      );
    }
    const secs = Math.floor(this.now());
    // The zero-padded time makes names sort in creation order, which TensorBoard relies on
    // when it reads a directory's files one after another.
    const stem = `events.out.tfevents.${String(secs).padStart(10, "0")}.${os.hostname()}.${process.pid}`;
    for (;;) {
      const candidate = path.join(dir, `${stem}.${filesOpened++}`);
      try {
        this.fd = fs.openSync(candidate, "wx");
        this.path = candidate;
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw new Error(
          `cannot create TensorBoard event file ${candidate}: ${(e as Error).message}`,
        );
      }
    }
    this.push(encodeFileVersion(this.now()));
    if (opts.startStep !== undefined) this.sessionStart(opts.startStep);
    this.flush(); // so even an empty run leaves a valid, recognisable file
  }

  /** Logs `value` (stored as float32) under `tag` at integer `step`. */
  scalar(tag: string, value: number, step: number, wallTime = this.now()): void {
    if (typeof tag !== "string" || tag.length === 0) {
      throw new Error(
        `TensorBoard scalar tag must be a non-empty string, got ${JSON.stringify(tag)}`,
      );
    }
    if (typeof value !== "number")
      throw new Error(`TensorBoard scalar "${tag}" must be a number, got ${typeof value}`);
    checkStep(step, tag);
    this.push(encodeScalar(tag, value, step, wallTime));
  }

  /** Writes buffered records to the file. */
  flush(): void {
    if (this.fd === undefined) throw new Error(`TensorBoard event file ${this.path} is closed`);
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      let off = 0;
      while (off < data.length) off += fs.writeSync(this.fd, data, off, data.length - off);
    } catch (e) {
      throw new Error(`cannot write TensorBoard event file ${this.path}: ${(e as Error).message}`);
    }
  }

  /**
   * Records a SessionLog START at `step`: "this run starts (or resumes) here". On every START
   * after a run directory's first, TensorBoard drops the points it has read with
   * step >= `step` — the tail a crashed run logged past its last checkpoint — so the resumed
   * run does not show it twice. Because the first START is ignored, call this on every start,
   * fresh runs included, once, right after opening, with `step` in the same unit as the
   * scalars' steps (for per-epoch scalars logged at epoch e+1: the number of finished epochs + 1).
   */
  sessionStart(step: number, wallTime = this.now()): void {
    checkStep(step, "sessionStart");
    this.push(encodeSessionStart(step, wallTime));
  }

  /** Flushes and closes; further calls to close() do nothing. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private push(eventBytes: Buffer): void {
    if (this.fd === undefined) throw new Error(`TensorBoard event file ${this.path} is closed`);
    const rec = frameRecord(eventBytes);
    this.pending.push(rec);
    this.pendingBytes += rec.length;
    if (this.pendingBytes >= this.maxPendingBytes) this.flush();
  }
}

function checkStep(step: number, what: string): void {
  if (!Number.isSafeInteger(step))
    throw new Error(`TensorBoard step for ${what} must be an integer, got ${step}`);
}

// ---------------------------------------------------------------- reader

/** One scalar (or other summary value) of an event, or one non-summary event. */
export interface EventEntry {
  wallTime: number;
  step: number;
  /** Summary value tag; absent for events without a summary. */
  tag?: string;
  /** The scalar; absent for non-scalar values (images, histograms, text). */
  value?: number;
  /** Set on the file's first event ("brain.Event:2"). */
  fileVersion?: string;
  /** True for a SessionLog START event (see EventWriter.sessionStart). */
  sessionStart?: boolean;
}

/**
 * Reads every event of a TensorBoard event file, one entry per summary value. CRCs are
 * checked (a corrupt record throws, naming the file and offset); an incomplete final record,
 * as left by a killed writer, is ignored.
 */
export function readEvents(file: string): EventEntry[] {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read TensorBoard event file ${file}: ${(e as Error).message}`);
  }
  const out: EventEntry[] = [];
  const { records } = parseRecords(buf, file);
  records.forEach((rec, i) => out.push(...decodeEvent(rec, `${file}: record ${i}`)));
  return out;
}

function decodeEvent(rec: Buffer, what: string): EventEntry[] {
  let wallTime = 0;
  let step = 0;
  let fileVersion: string | undefined;
  let sessionStart = false;
  const values: { tag: string; value?: number }[] = [];
  let hasSummary = false;
  for (const f of decodeFields(rec, what)) {
    if (f.field === 1 && f.wire === WIRE_FIXED64) wallTime = f.data!.readDoubleLE(0);
    else if (f.field === 2 && f.wire === WIRE_VARINT) step = Number(BigInt.asIntN(64, f.varint!));
    else if (f.field === 3 && f.wire === WIRE_LEN) fileVersion = f.data!.toString("utf8");
    else if (f.field === 5 && f.wire === WIRE_LEN) {
      hasSummary = true;
      for (const v of decodeFields(f.data!, what)) {
        if (v.field === 1 && v.wire === WIRE_LEN) values.push(decodeValue(v.data!, what));
      }
    } else if (f.field === 7 && f.wire === WIRE_LEN) {
      const status = decodeFields(f.data!, what).find(
        (s) => s.field === 1 && s.wire === WIRE_VARINT,
      );
      sessionStart = status?.varint === BigInt(SESSION_START);
    }
  }
  if (hasSummary) return values.map((v) => ({ wallTime, step, ...v }));
  const e: EventEntry = { wallTime, step };
  if (fileVersion !== undefined) e.fileVersion = fileVersion;
  if (sessionStart) e.sessionStart = true;
  return [e];
}

function decodeValue(buf: Buffer, what: string): { tag: string; value?: number } {
  let tag = "";
  let value: number | undefined;
  for (const f of decodeFields(buf, what)) {
    if (f.field === 1 && f.wire === WIRE_LEN) tag = f.data!.toString("utf8");
    else if (f.field === 2 && f.wire === WIRE_FIXED32) value = f.data!.readFloatLE(0);
    else if (f.field === 8 && f.wire === WIRE_LEN) value = scalarOfTensor(f.data!, what);
  }
  return value === undefined ? { tag } : { tag, value };
}

// TensorProto { DataType dtype = 1; bytes tensor_content = 4; repeated float float_val = 5;
// repeated double double_val = 6; }, DataType DT_FLOAT = 1, DT_DOUBLE = 2.
const DT_FLOAT = 1n;
const DT_DOUBLE = 2n;

/** The value of a one-element float/double tensor, else undefined (not a scalar). */
function scalarOfTensor(buf: Buffer, what: string): number | undefined {
  let dtype = 0n;
  const floats: number[] = [];
  let content: Buffer | undefined;
  for (const f of decodeFields(buf, what)) {
    if (f.field === 1 && f.wire === WIRE_VARINT) dtype = f.varint!;
    else if (f.field === 4 && f.wire === WIRE_LEN) content = f.data!;
    else if ((f.field === 5 || f.field === 6) && f.data) {
      // Repeated numbers arrive packed (one length-delimited field) or one field each.
      const size = f.field === 5 ? 4 : 8;
      const d = f.data;
      for (let o = 0; o + size <= d.length; o += size)
        floats.push(size === 4 ? d.readFloatLE(o) : d.readDoubleLE(o));
    }
  }
  if (floats.length === 1) return floats[0];
  if (content && dtype === DT_FLOAT && content.length === 4) return content.readFloatLE(0);
  if (content && dtype === DT_DOUBLE && content.length === 8) return content.readDoubleLE(0);
  return undefined;
}

export interface ScalarPoint {
  step: number;
  value: number;
  wallTime: number;
}

/**
 * The scalars of a run directory as TensorBoard shows them: every `*tfevents*` file read in
 * name (= creation) order, and on each SessionLog START after the first, earlier points with
 * step >= its step dropped (the orphaned tail of a run that was resumed from a checkpoint).
 */
export function readScalars(dir: string): Record<string, ScalarPoint[]> {
  let names: string[];
  try {
    names = fs
      .readdirSync(dir)
      .filter((n) => n.includes("tfevents"))
      .sort();
  } catch (e) {
    throw new Error(`cannot list TensorBoard run directory ${dir}: ${(e as Error).message}`);
  }
  const byTag = new Map<string, ScalarPoint[]>();
  let seenStart = false;
  for (const name of names) {
    for (const e of readEvents(path.join(dir, name))) {
      if (e.sessionStart) {
        if (seenStart)
          for (const [tag, pts] of byTag)
            byTag.set(
              tag,
              pts.filter((p) => p.step < e.step),
            );
        seenStart = true;
      } else if (e.tag !== undefined && e.value !== undefined) {
        let pts = byTag.get(e.tag);
        if (!pts) byTag.set(e.tag, (pts = []));
        pts.push({ step: e.step, value: e.value, wallTime: e.wallTime });
      }
    }
  }
  return Object.fromEntries(byTag);
}
