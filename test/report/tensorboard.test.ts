// TensorBoard event files: CRC32C, TFRecord framing, EventWriter round trips.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { crc32c, frameRecord, maskCrc, parseRecords } from "../../src/report/tfrecord.js";
import {
  EventWriter,
  readEvents,
  readScalars,
  type EventEntry,
} from "../../src/report/tensorboard.js";
import { replayScenario, type Scenario } from "./tb_scenario.js";
import { fixture, readJson, tmpDir } from "./helpers.js";

const f32 = (x: number) => Math.fround(x);

test("CRC32C matches the published check value and RFC 3720 vectors", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  // mask = rotr15 + 0xa282ead8 (mod 2^32)
  assert.equal(maskCrc(0), 0xa282ead8);
  assert.equal(
    maskCrc(0xe3069283),
    ((((0xe3069283 >>> 15) | (0xe3069283 << 17)) >>> 0) + 0xa282ead8) % 2 ** 32,
  );
});

test("TFRecord framing: length, masked CRCs, data; corrupt and truncated records", () => {
  const rec = frameRecord(Buffer.from("hello"));
  assert.equal(rec.length, 8 + 4 + 5 + 4);
  assert.equal(rec.readBigUInt64LE(0), 5n);
  assert.equal(rec.readUInt32LE(8), maskCrc(crc32c(rec.subarray(0, 8))));
  assert.equal(rec.subarray(12, 17).toString(), "hello");
  assert.equal(rec.readUInt32LE(17), maskCrc(crc32c(Buffer.from("hello"))));

  const two = Buffer.concat([rec, frameRecord(Buffer.from("world!"))]);
  assert.deepEqual(
    parseRecords(two, "x").records.map((r) => r.toString()),
    ["hello", "world!"],
  );
  // A writer killed mid-record leaves a tail that is reported, not thrown.
  const cut = parseRecords(two.subarray(0, two.length - 3), "x");
  assert.deepEqual(
    cut.records.map((r) => r.toString()),
    ["hello"],
  );
  assert.equal(cut.truncatedTail, 22 - 3);

  const badData = Buffer.from(two);
  badData[rec.length + 13] ^= 1;
  assert.throws(
    () => parseRecords(badData, "f.tfevents"),
    /f\.tfevents: bad data CRC in the record at byte 21/,
  );
  const badLen = Buffer.from(two);
  badLen[0] ^= 1;
  assert.throws(() => parseRecords(badLen, "f.tfevents"), /bad length CRC in the record at byte 0/);
});

test("EventWriter round-trips scalars through readEvents", () => {
  const dir = tmpDir();
  const w = new EventWriter(path.join(dir, "run", "tb"), { now: () => 1700000000.75 });
  assert.match(path.basename(w.path), /^events\.out\.tfevents\.1700000000\.[^/]+\.\d+\.\d+$/);
  w.scalar("train/loss", 2.302585, 0, 1700000001.5);
  w.scalar("train/loss", Number.NaN, 1);
  w.scalar("lr", Infinity, 2 ** 40);
  w.scalar("neg/step", -3, -7);
  w.close();
  w.close(); // idempotent
  const events = readEvents(w.path);
  assert.deepEqual(events, [
    { wallTime: 1700000000.75, step: 0, fileVersion: "brain.Event:2" },
    { wallTime: 1700000001.5, step: 0, tag: "train/loss", value: f32(2.302585) },
    { wallTime: 1700000000.75, step: 1, tag: "train/loss", value: NaN },
    { wallTime: 1700000000.75, step: 2 ** 40, tag: "lr", value: Infinity },
    { wallTime: 1700000000.75, step: -7, tag: "neg/step", value: -3 },
  ]);
  assert.throws(() => w.scalar("x", 1, 0), /is closed/);
});

test("EventWriter buffers until flush, validates input, and gives each instance its own file", () => {
  const dir = tmpDir();
  const w = new EventWriter(dir, { startStep: 0 });
  const header = fs.statSync(w.path).size;
  assert.ok(header > 0, "the header is written at once");
  w.scalar("a", 1, 0);
  assert.equal(fs.statSync(w.path).size, header);
  w.flush();
  assert.ok(fs.statSync(w.path).size > header);
  w.scalar("a", 1.5, 1); // to be replaced by the resumed writer below
  assert.throws(() => w.scalar("", 1, 0), /non-empty string/);
  assert.throws(() => w.scalar("a", 1, 1.5), /must be an integer/);
  assert.throws(() => w.scalar("a", "1" as unknown as number, 1), /must be a number/);
  const w2 = new EventWriter(dir, { startStep: 1 });
  assert.notEqual(w2.path, w.path);
  w2.scalar("a", 2, 1);
  w.close();
  w2.close();
  assert.deepEqual(
    readScalars(dir).a.map((p) => [p.step, p.value]),
    [
      [0, 1],
      [1, 2],
    ],
    "the second writer (a resume at step 1) replaces the first's points from step 1 on",
  );
});

test("an unwritable directory gives an error naming it", () => {
  const dir = tmpDir();
  const file = path.join(dir, "not-a-dir");
  fs.writeFileSync(file, "");
  assert.throws(() => new EventWriter(path.join(file, "tb")), /not-a-dir/);
  assert.throws(
    () => readEvents(path.join(dir, "missing.tfevents")),
    /cannot read TensorBoard event file .*missing\.tfevents/,
  );
});

interface TensorBoardRead {
  files: Record<string, EventEntry[]>;
  scalars: Record<string, [number, number, number][]>;
  tensors: Record<string, [number, number][]>;
}

test("divco's event files are byte-identical to those TensorBoard read back (fixture)", () => {
  const run = fixture("divco_run");
  const scenario = readJson<Scenario>(path.join(run, "scenario.json"));
  const written = replayScenario(scenario, tmpDir());
  const committed = fs
    .readdirSync(run)
    .filter((n) => n.includes("tfevents"))
    .sort();
  assert.equal(written.length, committed.length);
  written.forEach((p, i) => {
    assert.ok(
      fs.readFileSync(p).equals(fs.readFileSync(path.join(run, committed[i]))),
      `${committed[i]} differs`,
    );
  });
});

test("readEvents and readScalars agree with TensorBoard on divco's files (fixture)", () => {
  const run = fixture("divco_run");
  const tb = readJson<TensorBoardRead>(fixture("divco_run.tensorboard.json"));
  for (const [name, events] of Object.entries(tb.files))
    assert.deepEqual(readEvents(path.join(run, name)), events, name);
  const ours = readScalars(run);
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(tb.scalars).sort());
  for (const [tag, points] of Object.entries(tb.scalars)) {
    assert.deepEqual(
      ours[tag].map((p) => [p.step, p.value, p.wallTime]),
      points,
      tag,
    );
    assert.deepEqual(
      ours[tag].map((p) => [p.step, p.value]),
      tb.tensors[tag],
      `${tag} (plugin accumulator)`,
    );
  }
  // The resumed run (startStep 3) replaced steps 3..5 of the first run and added 6.
  assert.deepEqual(
    ours["train/loss"].map((p) => p.step),
    [0, 1, 2, 3, 4, 5, 6],
  );
});

test("readEvents parses torch.utils.tensorboard.SummaryWriter's file (fixture)", () => {
  const expected = readJson<EventEntry[]>(fixture("torch_summarywriter.json"));
  assert.deepEqual(readEvents(fixture("torch_summarywriter.tfevents")), expected);
  // simple_value, new-style float tensor and double tensor scalars all decode
  const values = Object.fromEntries(
    expected.filter((e) => e.value !== undefined).map((e) => [e.tag, e.value]),
  );
  assert.equal(values["acc/new_style"], 0.75);
  assert.equal(values["acc/double"], 0.1);
});
