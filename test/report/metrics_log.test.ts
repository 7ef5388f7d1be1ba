// Metrics logs (JSONL + CSV): appending, new columns, reopening, crash-truncated lines, reading
// the CSV back and putting recovered rows in place.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  MetricsLog,
  readMetrics,
  readMetricsCsv,
  type MetricsRow,
} from "../../src/report/metrics_log.js";
import { tmpDir } from "./helpers.js";

const read = (f: string) => fs.readFileSync(f, "utf8");

test("appends JSONL and CSV; a new column rewrites the CSV with the union", () => {
  const dir = path.join(tmpDir(), "run");
  const log = new MetricsLog(dir);
  log.append({ epoch: 1, loss: 2.5, note: "warm-up" });
  log.append({ epoch: 2, loss: 1.25, note: null });
  assert.equal(read(log.csvPath), "epoch,loss,note\n1,2.5,warm-up\n2,1.25,\n");
  log.append({ epoch: 3, val_acc1: 41.5, loss: 1 });
  assert.equal(
    read(log.csvPath),
    "epoch,loss,note,val_acc1\n1,2.5,warm-up,\n2,1.25,,\n3,1,,41.5\n",
  );
  assert.equal(
    read(log.jsonlPath),
    '{"epoch":1,"loss":2.5,"note":"warm-up"}\n{"epoch":2,"loss":1.25,"note":null}\n{"epoch":3,"val_acc1":41.5,"loss":1}\n',
  );
  assert.deepEqual(readMetrics(dir), log.rows);
  assert.deepEqual(
    fs.readdirSync(dir).sort(),
    ["metrics.csv", "metrics.jsonl"],
    "no temp files left",
  );
});

test("CSV quoting and non-finite numbers survive both files", () => {
  const log = new MetricsLog(tmpDir());
  log.append({ epoch: 1, loss: NaN, big: Infinity, small: -Infinity, arch: 'wrn "28,10"\nS=2' });
  assert.equal(
    read(log.csvPath),
    'epoch,loss,big,small,arch\n1,NaN,inf,-inf,"wrn ""28,10""\nS=2"\n',
  );
  assert.deepEqual(readMetrics(log.jsonlPath), [
    { epoch: 1, loss: NaN, big: Infinity, small: -Infinity, arch: 'wrn "28,10"\nS=2' },
  ]);
});

test("reopening continues the log with its header; truncateAfter drops redone epochs", () => {
  const dir = tmpDir();
  const first = new MetricsLog(dir);
  for (let e = 1; e <= 4; e++) first.append({ epoch: e, loss: 1 / e });
  first.append({ note: "no epoch: kept" });
  // The run crashed after epoch 4; its last checkpoint is from epoch 2.
  const resumed = new MetricsLog(dir);
  assert.equal(resumed.rows.length, 5);
  resumed.truncateAfter(2);
  assert.deepEqual(
    resumed.rows.map((r) => r.epoch ?? r.note),
    [1, 2, "no epoch: kept"],
  );
  resumed.append({ epoch: 3, loss: 0.3 });
  assert.equal(read(resumed.csvPath), "epoch,loss,note\n1,1,\n2,0.5,\n,,no epoch: kept\n3,0.3,\n");
  assert.deepEqual(
    readMetrics(dir).map((r) => r.epoch ?? null),
    [1, 2, null, 3],
  );
});

test("a partial last line from a crash is dropped; a corrupt line is reported with its place", () => {
  const dir = tmpDir();
  const log = new MetricsLog(dir);
  log.append({ epoch: 1, loss: 1 });
  fs.appendFileSync(log.jsonlPath, '{"epoch":2,"lo');
  assert.deepEqual(readMetrics(dir), [{ epoch: 1, loss: 1 }]);
  const reopened = new MetricsLog(dir);
  assert.equal(reopened.droppedTail, '{"epoch":2,"lo', "what was dropped is told");
  reopened.append({ epoch: 2, loss: 0.5 });
  assert.equal(read(reopened.jsonlPath), '{"epoch":1,"loss":1}\n{"epoch":2,"loss":0.5}\n');
  assert.equal(read(reopened.csvPath), "epoch,loss\n1,1\n2,0.5\n");

  fs.writeFileSync(reopened.jsonlPath, '{"epoch":1}\nnot json\n');
  assert.throws(() => new MetricsLog(dir), /metrics\.jsonl:2: not valid JSON/);
  assert.throws(() => readMetrics(path.join(dir, "nope")), /cannot read metrics log .*nope/);
});

test("rows with unsupported values are refused before anything is written", () => {
  const log = new MetricsLog(tmpDir());
  assert.throws(
    () => log.append({ epoch: 1, bad: [1, 2] as unknown as number }),
    /"bad" must be a number, string or null/,
  );
  assert.throws(() => log.append({ "": 1 }), /empty column name/);
  assert.equal(fs.existsSync(log.jsonlPath), false);
});

test("the CSV reads back exactly what the JSONL holds; insert puts recovered rows in epoch order", () => {
  const dir = tmpDir();
  const log = new MetricsLog(dir);
  const rows: MetricsRow[] = [
    { epoch: 1, loss: 0.1 + 0.2, lr: 1e-4, top1: NaN },
    { epoch: 2, loss: Infinity, lr: -1e-300, note: 'a "b",\nc' },
    { epoch: 3, loss: -Infinity, lr: 123456789.125 },
  ];
  for (const r of rows) log.append(r);
  assert.deepEqual(readMetricsCsv(dir), rows, "numbers round-trip bit for bit");
  fs.appendFileSync(log.csvPath, "4,0.5");
  assert.deepEqual(readMetricsCsv(log.csvPath), rows, "a cut-short last CSV line is ignored");

  // Rows 1 and 3 lost from the JSONL; put back from the CSV.
  fs.writeFileSync(log.jsonlPath, read(log.jsonlPath).split("\n")[1] + "\n");
  const reopened = new MetricsLog(dir);
  assert.deepEqual(reopened.rows, [rows[1]]);
  reopened.insert([rows[2], rows[0]]);
  assert.deepEqual(readMetrics(dir), rows);
  assert.deepEqual(readMetricsCsv(dir), rows);
});
