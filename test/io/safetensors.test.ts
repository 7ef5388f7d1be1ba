// safetensors read/write: every dtype, deterministic aligned layout, lazy reads, header validation.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type DType,
  type TensorRecord,
  DTYPES,
  SafetensorsError,
  encodeSafetensors,
  itemSize,
  numel,
  openSafetensors,
  readSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
} from "../../src/io/index.js";
import { expected, fixture, hex, tmpDir } from "./helpers.js";

/** Deterministic bytes for a record (not meaningful values: the format only moves bytes). */
function rec(dtype: DType, shape: number[], seed = 1): TensorRecord {
  const data = new Uint8Array(numel(shape) * itemSize(dtype));
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 11) & 0xff;
  if (dtype === "bool") for (let i = 0; i < data.length; i++) data[i] &= 1;
  return { dtype, shape, data };
}

function allDtypes(): Map<string, TensorRecord> {
  const m = new Map<string, TensorRecord>();
  DTYPES.forEach((d, i) => {
    m.set(`${d}.matrix`, rec(d, [2, 3], i));
    m.set(`${d}.scalar`, rec(d, [], i + 20));
    m.set(`${d}.empty`, rec(d, [0, 5], i));
  });
  return m;
}

function assertSame(got: Map<string, TensorRecord>, want: Map<string, TensorRecord>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k)!;
    assert.equal(g.dtype, w.dtype, k);
    assert.deepEqual(g.shape, w.shape, k);
    assert.equal(hex(g.data), hex(w.data), k);
  }
}

/** A file with a hand-made header, for the validation tests. */
function rawFile(header: unknown, dataBytes: number, headerLen?: number): Uint8Array {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const b = Buffer.alloc(8 + json.length + dataBytes);
  b.writeBigUInt64LE(BigInt(headerLen ?? json.length), 0);
  json.copy(b, 8);
  return b;
}

test("round trip of every dtype incl. scalars and empty tensors (buffer, sync file, async file)", async () => {
  const t = allDtypes();
  const meta = { format: "pt", epoch: "3" };
  const buf = encodeSafetensors(t, meta);
  const fromBuf = readSafetensors(buf);
  assertSame(fromBuf.tensors, t);
  assert.deepEqual(fromBuf.metadata, meta);

  const dir = tmpDir();
  saveSafetensorsSync(path.join(dir, "a.safetensors"), t, meta);
  await saveSafetensors(path.join(dir, "b.safetensors"), Object.fromEntries(t), meta);
  for (const f of ["a.safetensors", "b.safetensors"]) {
    const r = readSafetensors(path.join(dir, f));
    assertSame(r.tensors, t);
    assert.deepEqual(r.metadata, meta);
    assert.equal(
      hex(fs.readFileSync(path.join(dir, f))),
      hex(buf),
      "files equal the in-memory encoding",
    );
  }
});

test("layout is deterministic and every tensor is naturally aligned", () => {
  const t = allDtypes();
  const shuffled = new Map([...t].reverse());
  const a = encodeSafetensors(t);
  assert.equal(hex(encodeSafetensors(shuffled)), hex(a));
  const n = Number(a.readBigUInt64LE(0));
  assert.equal(n % 8, 0, "header padded to 8 bytes");
  const header = JSON.parse(a.subarray(8, 8 + n).toString()) as Record<
    string,
    { dtype: string; data_offsets: number[] }
  >;
  assert.equal(header["__metadata__"], undefined, "no metadata key when none is given");
  for (const [name, e] of Object.entries(header)) {
    const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2 }[e.dtype] ?? 1;
    assert.equal((8 + n + e.data_offsets[0]) % size, 0, name);
  }
  // Reference order: dtype rank descending (I64 before F64, BF16 before F16, U8 before BOOL), then name.
  const order = Object.values(header).map((e) => e.dtype);
  assert.deepEqual(
    [...new Set(order)],
    ["I64", "F64", "F32", "I32", "BF16", "F16", "I16", "I8", "U8", "BOOL"],
  );
});

test("lazy open reads the header first and single tensors on demand", () => {
  const f = path.join(tmpDir(), "big.safetensors");
  const t = allDtypes();
  saveSafetensorsSync(f, t, { k: "v" });
  using st = openSafetensors(f);
  assert.deepEqual(st.metadata, { k: "v" });
  assert.equal(st.keys().length, t.size);
  assert.deepEqual(st.entry("f32.matrix").shape, [2, 3]);
  assert.equal(hex(st.get("i16.scalar").data), hex(t.get("i16.scalar")!.data));
  assert.throws(() => st.get("nope"), /big\.safetensors: tensor "nope": no such tensor/);
  st.close();
  assert.throws(() => st.get("f32.matrix"), /file is closed/);
});

for (const name of ["st_python.safetensors", "st_official.safetensors"]) {
  test(`reads ${name} (written outside divco) exactly, and re-encodes it byte for byte`, () => {
    const want = expected(name);
    const got = readSafetensors(fixture(name));
    assert.deepEqual(got.metadata, want.metadata);
    assert.deepEqual([...got.tensors.keys()].sort(), Object.keys(want.tensors).sort());
    for (const [k, w] of Object.entries(want.tensors)) {
      const g = got.tensors.get(k)!;
      assert.deepEqual({ dtype: g.dtype, shape: g.shape, hex: hex(g.data) }, w, k);
    }
    assert.equal(
      hex(encodeSafetensors(got.tensors, got.metadata)),
      hex(fs.readFileSync(fixture(name))),
    );
  });
}

test("header validation: clear errors naming the file and tensor", () => {
  const bad = (bytes: Uint8Array, re: RegExp) =>
    assert.throws(
      () => readSafetensors(bytes, "m.safetensors"),
      (e: unknown) =>
        e instanceof SafetensorsError &&
        re.test(e.message) &&
        e.message.startsWith("m.safetensors: "),
    );
  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  assert.doesNotThrow(() => readSafetensors(rawFile(ok, 8)));
  bad(new Uint8Array(5), /too small/);
  bad(rawFile(ok, 8, 200_000_000), /exceeds the 100000000-byte limit/);
  bad(rawFile(ok, 8, 5000), /runs past the end/);
  bad(rawFile("[1,2]", 0), /does not start with '\{'/);
  bad(rawFile("{nope", 0), /not valid JSON/);
  bad(rawFile(ok, 4), /tensors need 8 data bytes but the file only has 4/);
  bad(rawFile(ok, 12), /4 bytes not covered by any tensor/);
  bad(
    rawFile({ w: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }, 8),
    /tensor "w": dtype "C64" is not supported/,
  );
  bad(
    rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8),
    /tensor "w": F32\[3\] needs 12 bytes but data_offsets \[0, 8\] span 8/,
  );
  bad(
    rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } }, 8),
    /tensor "w": shape \[-1\] has an invalid dimension/,
  );
  bad(
    rawFile({ w: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, 8),
    /tensor "w": data_offsets \[4, 0\] end before/,
  );
  bad(
    rawFile(
      {
        a: { dtype: "U8", shape: [4], data_offsets: [0, 4] },
        b: { dtype: "U8", shape: [4], data_offsets: [2, 6] },
      },
      6,
    ),
    /tensor "b": data_offsets \[2, 6\] overlaps the previous tensor/,
  );
  bad(
    rawFile(
      {
        a: { dtype: "U8", shape: [2], data_offsets: [0, 2] },
        b: { dtype: "U8", shape: [2], data_offsets: [4, 6] },
      },
      6,
    ),
    /tensor "b": data_offsets \[4, 6\] leaves a gap/,
  );
  bad(rawFile({ __metadata__: { epoch: 3 }, ...ok }, 8), /__metadata__\["epoch"\] is not a string/);
  assert.throws(
    () => readSafetensors(path.join(tmpDir(), "missing.safetensors")),
    /missing\.safetensors: cannot open/,
  );
});

test("truncated files are rejected by the lazy reader too", () => {
  const f = path.join(tmpDir(), "trunc.safetensors");
  const full = encodeSafetensors(allDtypes());
  fs.writeFileSync(f, full.subarray(0, full.length - 3));
  assert.throws(
    () => openSafetensors(f),
    /trunc\.safetensors: tensors need \d+ data bytes but the file only has/,
  );
});

test("writer rejects malformed records, naming the tensor, and leaves the old file alone", () => {
  const f = path.join(tmpDir(), "w.safetensors");
  fs.writeFileSync(f, "previous");
  assert.throws(
    () =>
      saveSafetensorsSync(f, { "layer.w": { dtype: "f32", shape: [3], data: new Uint8Array(8) } }),
    /w\.safetensors: tensor "layer\.w": f32\[3\] needs 12 bytes, data has 8/,
  );
  assert.throws(() => saveSafetensorsSync(f, { __metadata__: rec("u8", [1]) }), /reserved/);
  assert.equal(fs.readFileSync(f, "utf8"), "previous");
});
