// `divco bench latency` end to end, with the shortest timing (one round, no warm-up): the JSON
// holds one record per (S, mode, batch) with the fields npm run bench:infer prints, the
// undivided network as mode "undivided", and the ratios; usage errors exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runBench } from "../../src/cli/bench.js";
import { runCaptured } from "./helpers.js";

const QUICK = ["--min-rounds", "1", "--budget-ms", "0", "--warmup", "0", "--threads", "1"];

test("divco bench latency: a table, then one JSON object with every measurement", async () => {
  const r = await runCaptured(runBench, [
    ...["latency", "--arch", "resnet29", "--split", "2", "--batch", "1,2", "--dataset", "cifar10"],
    ...QUICK,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[1], /^arch +S +mode +batch +threads +ms\/batch \(median\)/);
  const doc = JSON.parse(lines[lines.length - 1]);
  assert.equal(doc.benchmark, "latency");
  assert.equal(doc.threads, 1);
  assert.deepEqual(
    doc.results.map(
      (x: { split: number; mode: string; batch: number }) => `${x.split}/${x.mode}/${x.batch}`,
    ),
    [1, 2].flatMap((b) =>
      ["1/undivided", "2/sequential", "2/concurrent", "2/fused"].map((m) => `${m}/${b}`),
    ),
  );
  for (const x of doc.results) {
    assert.deepEqual(Object.keys(x).sort(), [
      "arch", "batch", "dataset", "images_per_s", "latency_ms_median", "latency_ms_p90",
      "layout", "mode", "samples", "split", "threads",
    ]); // prettier-ignore
    assert.equal(x.arch, "resnet29");
    assert.equal(x.dataset, "cifar10");
    assert.ok(x.latency_ms_median > 0 && x.latency_ms_p90 >= x.latency_ms_median);
  }
  assert.equal(doc.ratios.length, 2);
  assert.ok(doc.ratios.every((x: { vs_undivided: number }) => x.vs_undivided > 0));
  const json = await runCaptured(runBench, [
    ...["latency", "--arch", "resnet29", "--split", "2", "--batch", "1", "--mode", "fused"],
    ...["--json", ...QUICK],
  ]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(
    JSON.parse(json.stdout).results.map((x: { mode: string }) => x.mode),
    ["undivided", "fused"],
  );
});

test("divco bench: usage errors exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["speed", "--arch", "resnet29", "--split", "2"], /unknown benchmark "speed"/],
    [["latency", "--arch", "resnet29", "--split", "1"], /--split: give S ≥ 2/],
    [["latency", "--arch", "resnet29", "--split", "3"], /cannot be divided into S=3/],
    [["latency", "--arch", "resnet29", "--split", "2", "--mode", "warp"], /unknown mode "warp"/],
    [["latency", "--arch", "resnet29", "--split", "2", "--batch", "0"], /--batch takes a positive/],
  ];
  for (const [argv, msg] of cases) {
    const r = await runCaptured(runBench, argv);
    assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});
