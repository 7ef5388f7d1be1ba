// Minimal read-only ZIP reader, enough for PyTorch checkpoints.
//
// torch.save writes an uncompressed ZIP (via miniz) whose entries are 64-byte aligned and
// may use ZIP64 records once a file passes 4 GiB. We parse the central directory (the
// authoritative list; local headers may carry different padding), read entries on demand
// from a file descriptor or a buffer, inflate "deflate" entries with zlib in case a
// checkpoint was re-zipped by another tool, and check each entry's CRC-32.
import * as fs from "node:fs";
import * as zlib from "node:zlib";

/** Random access to bytes, from a file or from memory. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(position: number, length: number): Uint8Array;
  close(): void;
}

export function bufferSource(buf: Uint8Array, name = "<buffer>"): ByteSource {
  return {
    name,
    size: buf.byteLength,
    read(position, length) {
      if (position < 0 || position + length > buf.byteLength) {
        throw new Error(
          `${name}: read of ${length} bytes at ${position} is past the end (${buf.byteLength} bytes)`,
        );
      }
      return buf.subarray(position, position + length);
    },
    close() {},
  };
}

export function fileSource(path: string): ByteSource {
  const fd = fs.openSync(path, "r");
  let size: number;
  try {
    size = fs.fstatSync(fd).size;
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  let open = true;
  return {
    name: path,
    size,
    read(position, length) {
      const buf = new Uint8Array(length);
      let off = 0;
      while (off < length) {
        const n = fs.readSync(fd, buf, off, length - off, position + off);
        if (n === 0) throw new Error(`${path}: unexpected end of file at byte ${position + off}`);
        off += n;
      }
      return buf;
    },
    close() {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

export class ZipError extends Error {
  constructor(
    file: string,
    /** What is wrong, without the file name (for callers that name the file themselves). */
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = "ZipError";
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`64-bit value ${v} too large`);
  return Number(v);
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();

  constructor(readonly src: ByteSource) {
    const fail = (d: string): never => {
      throw new ZipError(src.name, d);
    };
    // The End Of Central Directory record sits at the end, before an optional comment (≤ 65535 bytes).
    const tailLen = Math.min(src.size, 22 + 0xffff);
    const tail = src.read(src.size - tailLen, tailLen);
    const tdv = view(tail);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tdv.getUint32(i, true) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      // A file that starts with a local header but has no directory at its end was cut short.
      const head = src.size >= 4 ? view(src.read(0, 4)).getUint32(0, true) : 0;
      fail(
        head === SIG_LOCAL
          ? `truncated: it starts as a ZIP archive but its end (the central directory) is missing after ${src.size} bytes (an interrupted save or download?)`
          : "not a ZIP archive (no end-of-central-directory record)",
      );
    }
    let count = tdv.getUint16(eocd + 10, true);
    let cdSize = tdv.getUint32(eocd + 12, true);
    let cdOffset = tdv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      // ZIP64: a locator just before the EOCD points at the 64-bit EOCD record.
      const locAbs = src.size - tailLen + eocd - 20;
      if (locAbs < 0) fail("ZIP64 locator missing");
      const loc = view(src.read(locAbs, 20));
      if (loc.getUint32(0, true) !== SIG_ZIP64_LOCATOR) fail("ZIP64 locator missing");
      const z = view(src.read(u64(loc, 8), 56));
      if (z.getUint32(0, true) !== SIG_ZIP64_EOCD)
        fail("bad ZIP64 end-of-central-directory record");
      count = u64(z, 32);
      cdSize = u64(z, 40);
      cdOffset = u64(z, 48);
    }
    if (cdOffset + cdSize > src.size) fail("central directory lies outside the file (truncated?)");
    const cd = src.read(cdOffset, cdSize);
    const dv = view(cd);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.byteLength || dv.getUint32(p, true) !== SIG_CENTRAL)
        fail(`corrupt central directory entry ${i}`);
      const method = dv.getUint16(p + 10, true);
      const crc32 = dv.getUint32(p + 16, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
      // ZIP64 extra field (id 1) holds, in this order, whichever of the three were saturated.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = dv.getUint16(e, true);
        const len = dv.getUint16(e + 2, true);
        if (id === 1) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = u64(dv, q);
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = u64(dv, q);
            q += 8;
          }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(dv, q);
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, crc32, compressedSize, size, localHeaderOffset });
      p = eEnd + commentLen;
    }
  }

  static open(path: string): ZipReader {
    const src = fileSource(path);
    try {
      return new ZipReader(src);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The uncompressed bytes of an entry, CRC-checked. */
  read(name: string): Uint8Array {
    const ent = this.entries.get(name);
    if (ent === undefined)
      throw new ZipError(this.src.name, `archive has no entry ${JSON.stringify(name)}`);
    const lh = view(this.src.read(ent.localHeaderOffset, 30));
    if (lh.getUint32(0, true) !== SIG_LOCAL)
      throw new ZipError(this.src.name, `bad local header for ${name}`);
    const start = ent.localHeaderOffset + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
    if (start + ent.compressedSize > this.src.size) {
      throw new ZipError(this.src.name, `entry ${name} runs past the end of the file (truncated?)`);
    }
    const raw = this.src.read(start, ent.compressedSize);
    let data: Uint8Array;
    if (ent.method === 0) data = raw;
    else if (ent.method === 8) data = zlib.inflateRawSync(raw);
    else
      throw new ZipError(
        this.src.name,
        `entry ${name} uses unsupported compression method ${ent.method}`,
      );
    if (data.byteLength !== ent.size) {
      throw new ZipError(
        this.src.name,
        `entry ${name} is ${data.byteLength} bytes, directory says ${ent.size}`,
      );
    }
    if (crc32(data) !== ent.crc32)
      throw new ZipError(this.src.name, `entry ${name} fails its CRC-32 check (corrupt file)`);
    return data;
  }

  close(): void {
    this.src.close();
  }
}

let table: Uint32Array | undefined;

/** CRC-32 (IEEE); zlib's native one where this Node has it (≥ 20.15). */
export function crc32(data: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native !== undefined) return native(data) >>> 0;
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
