// Minimal reader for MATLAB Level 5 MAT-files (the format of the official
// SVHN *_32x32.mat files): numeric arrays of any class, stored plainly or
// inside zlib-compressed elements (miCOMPRESSED), little- or big-endian.
// Layout per "MAT-File Format" (MathWorks): 128-byte header, then data
// elements of an 8-byte tag (type, byte count) — or a 4-byte "small element"
// tag — padded to 8 bytes. A miMATRIX element holds array flags, dimensions,
// name and the real part; MATLAB may store values in a narrower type than
// the array class (e.g. double labels as uint8), so values are widened here.
import * as zlib from "node:zlib";
import { DataError } from "./errors.js";

export interface MatArray {
  name: string;
  /** MATLAB class id (6 double, 9 uint8, ...). */
  classId: number;
  /** Dimensions, column-major (Fortran) order as MATLAB stores them. */
  dims: number[];
  /** Real part; Uint8Array for uint8 arrays stored as uint8, otherwise Float64Array. */
  data: Uint8Array | Float64Array;
}

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
} as const;
const MX_UINT8 = 9;

interface Element {
  type: number;
  body: Buffer;
  next: number;
}

class Reader {
  constructor(
    readonly buf: Buffer,
    readonly le: boolean,
    readonly file: string,
  ) {}
  u32(o: number): number {
    return this.le ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o);
  }
  /** The element at `offset`; `pad` false for elements whose size is not 8-byte padded (compressed). */
  element(offset: number, end: number): Element {
    if (offset + 8 > end) this.fail(`element header at byte ${offset} runs past the end (${end})`);
    const first = this.u32(offset);
    const small = first >>> 16;
    if (small !== 0) {
      // Small data element: 2-byte size, 2-byte type, up to 4 bytes of data.
      return {
        type: first & 0xffff,
        body: this.buf.subarray(offset + 4, offset + 4 + small),
        next: offset + 8,
      };
    }
    const n = this.u32(offset + 4);
    if (offset + 8 + n > end)
      this.fail(
        `element of type ${first} at byte ${offset} declares ${n} bytes, only ${end - offset - 8} remain (truncated file?)`,
      );
    const next = first === MI.COMPRESSED ? offset + 8 + n : offset + 8 + Math.ceil(n / 8) * 8;
    return { type: first, body: this.buf.subarray(offset + 8, offset + 8 + n), next };
  }
  fail(msg: string): never {
    throw new DataError("corrupt", `${this.file}: not a valid MAT v5 file: ${msg}`);
  }
}

/** Parses every numeric array in a MAT v5 file. */
export function readMat5(buf: Buffer, file = "<buffer>"): Map<string, MatArray> {
  if (buf.length < 128)
    throw new DataError(
      "truncated",
      `${file}: expected at least a 128-byte MAT header, found ${buf.length} bytes`,
    );
  const endian = buf.toString("latin1", 126, 128);
  if (endian !== "IM" && endian !== "MI") {
    throw new DataError(
      "corrupt",
      `${file}: not a MAT v5 file (no endian indicator; MAT v7.3/HDF5 files are not supported)`,
    );
  }
  const top = new Reader(buf, endian === "IM", file);
  const out = new Map<string, MatArray>();
  let off = 128;
  while (off < buf.length) {
    const el = top.element(off, buf.length);
    off = el.next;
    let matrix: Element = el;
    let reader = top;
    if (el.type === MI.COMPRESSED) {
      const inflated = inflate(top, el.body);
      reader = new Reader(inflated, top.le, file);
      matrix = reader.element(0, inflated.length);
    }
    if (matrix.type !== MI.MATRIX) continue;
    const arr = parseMatrix(reader, matrix.body);
    if (arr) out.set(arr.name, arr);
  }
  return out;
}

function inflate(r: Reader, body: Buffer): Buffer {
  try {
    return zlib.inflateSync(body);
  } catch (e) {
    return r.fail(`compressed element cannot be inflated (${(e as Error).message})`);
  }
}

function parseMatrix(parent: Reader, body: Buffer): MatArray | null {
  if (body.length === 0) return null;
  const r = new Reader(body, parent.le, parent.file);
  const flags = r.element(0, body.length);
  const classId = (parent.le ? flags.body.readUInt32LE(0) : flags.body.readUInt32BE(0)) & 0xff;
  const dimsEl = r.element(flags.next, body.length);
  const dims: number[] = [];
  for (let i = 0; i + 4 <= dimsEl.body.length; i += 4)
    dims.push(parent.le ? dimsEl.body.readInt32LE(i) : dimsEl.body.readInt32BE(i));
  const nameEl = r.element(dimsEl.next, body.length);
  const name = nameEl.body.toString("latin1");
  if (classId < 6 || classId > 15) return null; // cells, structs, objects, chars, sparse: not needed
  const real = r.element(nameEl.next, body.length);
  const count = dims.reduce((a, b) => a * b, 1);
  const data = widen(r, real, classId, count);
  if (data.length !== count)
    r.fail(`array "${name}" has ${data.length} values, dimensions ${dims.join("×")} need ${count}`);
  return { name, classId, dims, data };
}

function widen(r: Reader, el: Element, classId: number, count: number): Uint8Array | Float64Array {
  const b = el.body;
  if (el.type === MI.UINT8 && classId === MX_UINT8)
    return new Uint8Array(b.buffer, b.byteOffset, b.length).slice();
  const sizes: Record<number, number> = {
    1: 1,
    2: 1,
    3: 2,
    4: 2,
    5: 4,
    6: 4,
    7: 4,
    9: 8,
    12: 8,
    13: 8,
  };
  const size = sizes[el.type];
  if (!size) r.fail(`unsupported numeric storage type ${el.type}`);
  const n = Math.floor(b.length / size);
  if (n < count) r.fail(`array data holds ${n} values, expected ${count}`);
  const out = new Float64Array(count);
  const le = r.le;
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (el.type) {
      case MI.INT8:
        out[i] = b.readInt8(o);
        break;
      case MI.UINT8:
        out[i] = b[o];
        break;
      case MI.INT16:
        out[i] = le ? b.readInt16LE(o) : b.readInt16BE(o);
        break;
      case MI.UINT16:
        out[i] = le ? b.readUInt16LE(o) : b.readUInt16BE(o);
        break;
      case MI.INT32:
        out[i] = le ? b.readInt32LE(o) : b.readInt32BE(o);
        break;
      case MI.UINT32:
        out[i] = le ? b.readUInt32LE(o) : b.readUInt32BE(o);
        break;
      case MI.SINGLE:
        out[i] = le ? b.readFloatLE(o) : b.readFloatBE(o);
        break;
      case MI.DOUBLE:
        out[i] = le ? b.readDoubleLE(o) : b.readDoubleBE(o);
        break;
      case MI.INT64:
        out[i] = Number(le ? b.readBigInt64LE(o) : b.readBigInt64BE(o));
        break;
      case MI.UINT64:
        out[i] = Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
        break;
    }
  }
  return out;
}
