// PyTorch .pth reading (zip and legacy formats) against files written by torch.save.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type TensorRecord,
  PickleError,
  PthError,
  PthTensor,
  PyGlobal,
  PyObject,
  extractStateDict,
  loadPth,
  loadPthStateDict,
  materializeView,
  pyToJSON,
  unpickle,
} from "../../src/io/index.js";
import { expected, fixture, hex, tmpDir } from "./helpers.js";

function assertTensors(got: Map<string, TensorRecord>, file: string): void {
  const want = expected(file).tensors;
  assert.deepEqual([...got.keys()].sort(), Object.keys(want).sort(), `${file}: tensor names`);
  for (const [k, w] of Object.entries(want)) {
    const g = got.get(k)!;
    assert.deepEqual({ dtype: g.dtype, shape: g.shape, hex: hex(g.data) }, w, `${file}: ${k}`);
  }
}

for (const file of ["state_plain.pth", "legacy.pth", "state_deflated.pth", "dtypes_misc.pth"]) {
  test(`${file}: every tensor matches torch exactly (views materialised)`, () => {
    const sd = loadPthStateDict(fixture(file));
    assertTensors(sd.tensors, file);
    assert.equal(sd.location, "");
    assert.equal(sd.strippedPrefix, "");
    assert.equal(sd.others.size, 0);
  });
}

test("state_plain.pth: checkpoint order, parameters flagged, BN counter is an i64 scalar", () => {
  const obj = loadPth(fixture("state_plain.pth"));
  assert.ok(obj instanceof Map);
  assert.deepEqual([...obj.keys()].slice(0, 3), ["0.weight", "1.weight", "1.bias"]);
  const nbt = obj.get("1.num_batches_tracked") as PthTensor;
  assert.deepEqual([nbt.dtype, nbt.shape, hex(nbt.data)], ["i64", [], "0500000000000000"]);
  assert.equal((obj.get("param") as PthTensor).requiresGrad, true);
  assert.equal((obj.get("1.running_mean") as PthTensor).requiresGrad, false);
});

test("checkpoint_wrapped.pth: finds state_dict, strips module., reports the rest", () => {
  const sd = loadPthStateDict(fixture("checkpoint_wrapped.pth"));
  assert.equal(sd.location, "state_dict");
  assert.equal(sd.strippedPrefix, "module.");
  assertTensors(sd.tensors, "checkpoint_wrapped.pth");
  assert.deepEqual(
    [...sd.tensors.keys()],
    [
      "0.weight",
      "0.bias",
      "1.weight",
      "1.bias",
      "1.running_mean",
      "1.running_var",
      "1.num_batches_tracked",
    ],
  );
  assert.deepEqual(pyToJSON(sd.others), expected("checkpoint_wrapped.pth").others);
  assert.equal(sd.others.get("epoch"), 3);
  assert.equal(sd.others.get("best_acc1"), 71.2);
});

test("loads from a buffer as well as a path", () => {
  const sd = loadPthStateDict(fs.readFileSync(fixture("dtypes_misc.pth")), "misc.pth");
  assertTensors(sd.tensors, "dtypes_misc.pth");
});

test("module. is stripped only when every name has it", () => {
  const t = new PthTensor("u8", [1], new Uint8Array(1));
  const sd = extractStateDict(
    new Map<unknown, unknown>([
      ["module.a", t],
      ["b", t],
      ["epoch", 1],
    ]),
  );
  assert.deepEqual([...sd.tensors.keys()], ["module.a", "b"]);
  assert.deepEqual([...sd.others.keys()], ["epoch"]);
  const m = extractStateDict(
    new Map<unknown, unknown>([
      ["model", new Map([["module.x", t]])],
      ["arch", "wrn"],
    ]),
  );
  assert.deepEqual(
    [m.location, [...m.tensors.keys()], [...m.others.keys()]],
    ["model", ["x"], ["arch"]],
  );
  assert.throws(
    () => extractStateDict(new Map([["epoch", 3]]), "e.pth"),
    /e\.pth: no state dict found .*top-level keys: epoch/,
  );
  // torch.save({}): said as such, not as an empty list of keys (issue #10 item 6).
  assert.throws(
    () => loadPthStateDict(fixture("empty_dict.pth")),
    /empty_dict\.pth: no state dict found: the checkpoint holds an empty dict \(nothing was saved in it\)$/,
  );
  assert.throws(
    () => extractStateDict([1, 2], "l.pth"),
    /l\.pth: expected a dict at the top level, found a list/,
  );
});

test("files that are not checkpoints give clear errors", () => {
  const dir = tmpDir();
  const txt = path.join(dir, "notes.pth");
  fs.writeFileSync(txt, "hello, I am text\n");
  assert.throws(
    () => loadPth(txt),
    (e: unknown) => e instanceof PthError && /notes\.pth: not a PyTorch checkpoint/.test(e.message),
  );
  assert.throws(
    () => loadPth(fixture("not_torch.zip")),
    /not_torch\.zip: zip archive has no <name>\/data\.pkl/,
  );
  assert.throws(() => loadPth(path.join(dir, "absent.pth")), /absent\.pth: cannot open/);
  // A pickle, but not one torch.save wrote.
  const pkl = path.join(dir, "plain.pkl");
  fs.writeFileSync(pkl, Buffer.from("80024b2a2e", "hex")); // pickle.dumps(42, 2)
  assert.throws(() => loadPth(pkl), /plain\.pkl: a pickle but not a torch\.save checkpoint/);
  assert.throws(() => loadPth(new Uint8Array(2), "tiny.pth"), /tiny\.pth: file is too small/);
});

test("truncated and corrupted archives are detected", () => {
  const bytes = fs.readFileSync(fixture("state_plain.pth"));
  assert.throws(
    () => loadPth(bytes.subarray(0, bytes.length - 100), "cut.pth"),
    (e: Error) =>
      e.message ===
      `cut.pth: truncated: it starts as a ZIP archive but its end (the central directory) is missing after ${bytes.length - 100} bytes (an interrupted save or download?)`,
  );
  // Flip the first payload byte of storage 0: its local header name is followed by the
  // extra field (torch pads it for 64-byte alignment), whose length sits just before the name.
  const bad = Buffer.from(bytes);
  const local = bad.indexOf(Buffer.from("state_plain/data/0"));
  assert.ok(local > 0);
  const dataStart = local + "state_plain/data/0".length + bad.readUInt16LE(local - 2);
  bad[dataStart] ^= 0xff;
  assert.throws(() => loadPth(bad, "flipped.pth"), /CRC-32/);
  const legacy = fs.readFileSync(fixture("legacy.pth"));
  assert.throws(
    () => loadPth(legacy.subarray(0, legacy.length - 5), "old.pth"),
    /old\.pth: storage \S+ is (truncated|missing)/,
  );
});

test("unknown globals stay inert: nothing is executed", () => {
  // pickle protocol 0 for: os.system("echo pwned")
  const evil = Buffer.from("cos\nsystem\n(S'echo pwned'\ntR.", "latin1");
  const { value } = unpickle(evil);
  assert.ok(value instanceof PyObject);
  assert.ok(value.cls instanceof PyGlobal);
  assert.equal(value.cls.qualname, "os.system");
  assert.deepEqual(value.args, ["echo pwned"]);
  assert.throws(
    () => unpickle(Buffer.from("8002", "hex"), { source: "t.pkl" }),
    (e: unknown) => e instanceof PickleError && /t\.pkl: .*truncated/.test(e.message),
  );
});

test("pickle basics (as written by Python): int widths, floats, str, bytes, containers, memo", () => {
  // pickle.dumps(v, 4) and pickle.dumps(v, 2) for
  // v = [1, -2, 300, 70000, 2**70, 1.5, "é", b"\x00\xff", None, True, (1, 2), {"a": 1}, {3}, -2**70, "x"*300]; v.append(v[10])
  const x300 = "78".repeat(300);
  const p4 =
    "80049588010000000000005d94284b014afeffffff4d2c014a701101008a09000000000000000040473ff80000000000008c02c3a994430200ff944e88" +
    "4b014b0286947d948c0161944b01738f94284b03908a090000000000000000c0582c010000" +
    x300 +
    "946803652e";
  const p2 =
    "80025d7100284b014afeffffff4d2c014a701101008a09000000000000000040473ff80000000000005802000000c3a97101635f636f646563730a656e63" +
    "6f64650a7102580300000000c3bf710358060000006c6174696e3171048671055271064e884b014b028671077d710858010000006171094b0173635f5f" +
    "6275696c74696e5f5f0a7365740a710a5d710b4b036185710c52710d8a090000000000000000c0582c010000" +
    x300 +
    "710e6807652e";
  for (const h of [p4, p2]) {
    const { value } = unpickle(Buffer.from(h, "hex"));
    const v = value as unknown[];
    assert.deepEqual(v.slice(0, 7), [1, -2, 300, 70000, 2n ** 70n, 1.5, "é"]);
    assert.deepEqual([...(v[7] as Uint8Array)], [0, 255]);
    assert.deepEqual(v.slice(8), [
      null,
      true,
      [1, 2],
      new Map([["a", 1]]),
      new Set([3]),
      -(2n ** 70n),
      "x".repeat(300),
      [1, 2],
    ]);
    assert.equal(v[15], v[10], "memo returns the same object");
  }
});

test("materializeView: strided copies and bounds checks", () => {
  const storage = Uint8Array.from({ length: 12 }, (_, i) => i); // 12 u8 elements
  assert.deepEqual(
    [...materializeView(storage, 1, 0, [3, 4], [1, 3])],
    [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11],
  ); // transpose of 4x3
  assert.deepEqual([...materializeView(storage, 1, 5, [2], [2])], [5, 7]);
  assert.deepEqual([...materializeView(storage, 1, 2, [2, 2], [0, 1])], [2, 3, 2, 3]); // expanded
  assert.deepEqual([...materializeView(storage, 2, 1, [], [])], [2, 3]); // scalar of 2-byte items at element 1
  assert.equal(materializeView(storage, 4, 0, [0, 3], [3, 1]).byteLength, 0);
  assert.throws(
    () => materializeView(storage, 1, 10, [3], [1], "w"),
    /w: view reaches element 12 of a storage with only 12 elements/,
  );
});
