// divco report --format md: the tables are built from what the trainer writes (config.json,
// metrics.jsonl) and from eval-<label>-epoch-NNNN.json files next to them; docs/results.md is
// made with them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MetricsLog } from "../../src/report/metrics_log.js";
import { finalTable, readRun, runTable } from "../../src/report/run_report.js";
import { runReport } from "../../src/cli/report.js";
import { fixture } from "./helpers.js";

function fakeRun(root: string, name: string, seed: number, top1: number[], epochs = 2): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ arch: "resnet29", split: 2, seed, epochs }),
  );
  const log = new MetricsLog(dir);
  top1.forEach((v, i) =>
    log.append({
      epoch: i + 1,
      val_acc1: v,
      val_acc5: v + 40,
      val_acc1_member0: v - 2,
      val_acc1_member1: v - 3,
      epoch_seconds: 100 + i,
      train_images_per_s: 500,
    }),
  );
  return dir;
}

test("per-run tables, extra evaluations as columns, and the final mean over seeds", async () => {
  const root = mkdtempSync(join(tmpdir(), "divco-report-"));
  const a = fakeRun(root, "s2-seed0", 0, [40, 50]);
  fakeRun(root, "s2-seed1", 1, [42, 54]);
  fakeRun(root, "s2-seed2", 2, [41], 2); // unfinished: in its own table, not in the final one
  writeFileSync(
    join(a, "eval-records0-999-epoch-0002.json"),
    JSON.stringify({ top1: 51.5, top5: 90, memberTop1: [49.1, 48.2], loss: 1, images: 1000 }),
  );
  const run = readRun(a);
  assert.deepEqual(run.rows[1].extra["records0-999"], { top1: 51.5, memberTop1: [49.1, 48.2] });
  const table = runTable(run);
  assert.match(
    table,
    /\| 2 \| 50\.00 \(90\.00\) \| 48\.00 \/ 47\.00 \| 51\.50 \| 49\.10 \/ 48\.20 \| 101 \| 500\.0 \|/,
  );
  assert.match(
    table,
    /\| 1 \| 40\.00 \(80\.00\) \| 38\.00 \/ 37\.00 \| – \| – \| 100 \| 500\.0 \|/,
  );
  const final = finalTable([
    readRun(a),
    readRun(join(root, "s2-seed1")),
    readRun(join(root, "s2-seed2")),
  ]);
  assert.match(
    final,
    /\| resnet29 S=2 \| 0, 1 \| 52\.00 \(50\.00, 54\.00\) \| – \|/,
    "the mean of seeds 0 and 1; seed 2 unfinished",
  );

  const lines: string[] = [];
  const code = await runReport(["--under", root, "--format", "md"], {
    log: (s) => lines.push(s),
    err: (s) => lines.push(s),
  });
  assert.equal(code, 0);
  assert.match(lines.join("\n"), /resnet29, S=2, seed 2\*\* \(s2-seed2; 1\/2 epochs\)/);
  const errs: string[] = [];
  assert.equal(await runReport([], { log: () => {}, err: (s) => errs.push(s) }), 2);
  assert.match(errs[0], /give --run DIR or --under DIR/);
  assert.throws(() => readRun(root), /not a divco run directory/);
});

test("--format md reproduces the tables of docs/results.md from the reproduction's runs", async () => {
  // test/fixtures/report/cifar10_short holds the runs rebuilt from docs/results.md (its README);
  // this checks that the Markdown report of them is, character for character, what the page shows.
  const doc = readFileSync(fixture("../../../docs/results.md"), "utf8");
  const start = doc.indexOf("**resnet29, S=1, seed 0**");
  const end = doc.indexOf("\n\nReading it:");
  assert.ok(start > 0 && end > start, "docs/results.md has its measured tables");
  const lines: string[] = [];
  const code = await runReport(["--under", fixture("cifar10_short"), "--format", "md"], {
    log: (s) => lines.push(s),
    err: (s) => lines.push(s),
  });
  assert.equal(code, 0);
  assert.equal(lines.join("\n"), doc.slice(start, end));
});
