// TFRecord framing, the container TensorBoard event files use:
//
//   u64 LE  length
//   u32 LE  masked CRC32C of the 8 length bytes
//   bytes   data
//   u32 LE  masked CRC32C of the data
//
// CRC32C is the Castagnoli polynomial (reflected 0x82F63B78), not zlib's CRC32, so Node's
// zlib cannot compute it; a 256-entry table is fast enough for log records. The mask exists
// because a CRC of data that itself contains CRCs is weak; it is TensorFlow's
// `crc32c::Mask`: rotate right by 15, add a constant.

const CASTAGNOLI_REFLECTED = 0x82f63b78;
const MASK_DELTA = 0xa282ead8;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli) of `bytes[start, end)`; CRC32C("123456789") = 0xE3069283. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TensorFlow's masked CRC: ((crc >>> 15) | (crc << 17)) + 0xa282ead8, modulo 2^32. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** One framed record around `data`. */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskCrc(crc32c(out, 0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskCrc(crc32c(data)), 12 + data.length);
  return out;
}

export class TFRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TFRecordError";
  }
}

export interface ParsedRecords {
  records: Buffer[];
  /** Bytes at the end that do not form a whole record (a writer killed mid-write), else 0. */
  truncatedTail: number;
}

/**
 * Split a file's bytes into records, checking both CRCs of each. A corrupt record throws
 * (naming `source` and the byte offset); an incomplete last record is reported, not thrown,
 * because that is what a crashed or still-running writer leaves and TensorBoard likewise
 * reads up to it.
 */
export function parseRecords(buf: Buffer, source: string): ParsedRecords {
  const records: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 12) return { records, truncatedTail: buf.length - off };
    const len64 = buf.readBigUInt64LE(off);
    if (buf.readUInt32LE(off + 8) !== maskCrc(crc32c(buf, off, off + 8))) {
      throw new TFRecordError(`${source}: bad length CRC in the record at byte ${off}`);
    }
    if (len64 > BigInt(buf.length)) return { records, truncatedTail: buf.length - off };
    const len = Number(len64);
    const dataStart = off + 12;
    if (buf.length - dataStart < len + 4) return { records, truncatedTail: buf.length - off };
    if (buf.readUInt32LE(dataStart + len) !== maskCrc(crc32c(buf, dataStart, dataStart + len))) {
      throw new TFRecordError(`${source}: bad data CRC in the record at byte ${off}`);
    }
    records.push(buf.subarray(dataStart, dataStart + len));
    off = dataStart + len + 4;
  }
  return { records, truncatedTail: 0 };
}
