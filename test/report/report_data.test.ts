// The data behind the report's charts, checked against what the runs logged: the curves are the
// metrics.jsonl columns epoch by epoch, seed groups average the final top-1, trade-off points sit
// at the counted params/MACs and the fastest measured latency, and the paper's points join only
// where arch and dataset match.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { buildReport, recipeLine } from "../../src/report/report_data.js";
import { readRun } from "../../src/report/run_report.js";
import { readLatencyFile, bestLatencies } from "../../src/report/latency_file.js";
import { PAPER_POINTS, paperPoints } from "../../src/report/paper_results.js";
import { fixture, fixtureRuns, metricsRows, stubCounts, tmpDir, writeRun } from "./helpers.js";

const counts = { counts: stubCounts };

test("each run's curves are its metrics.jsonl, epoch by epoch, and its summary follows from them", () => {
  const dirs = fixtureRuns("sample_runs");
  assert.equal(dirs.length, 5);
  for (const dir of dirs) {
    const rows = metricsRows(dir);
    const [run] = buildReport([readRun(dir)], counts).runs;
    const split = run.split;
    const series = (s: string) => run.curves.accuracy.filter((p) => p.series === s);
    assert.deepEqual(
      series("ensemble").map((p) => [p.epoch, p.top1]),
      rows.map((r) => [r.epoch, r.val_acc1]),
    );
    for (let m = 0; m < split && split > 1; m++)
      assert.deepEqual(
        series(`member ${m + 1}`).map((p) => [p.epoch, p.top1]),
        rows.map((r) => [r.epoch, r[`val_acc1_member${m}`]]),
      );
    assert.equal(run.curves.accuracy.length, rows.length * (split > 1 ? split + 1 : 1));
    const loss = (s: string) =>
      run.curves.loss.filter((p) => p.series === s).map((p) => [p.epoch, p.loss]);
    assert.deepEqual(
      loss("training"),
      rows.map((r) => [r.epoch, r.train_loss]),
    );
    assert.deepEqual(
      loss("test"),
      rows.map((r) => [r.epoch, r.val_loss]),
    );
    assert.deepEqual(
      run.curves.lr,
      rows.map((r) => ({ epoch: r.epoch, lr: r.lr })),
    );
    assert.deepEqual(
      run.curves.cotWeight,
      split > 1 ? rows.map((r) => ({ epoch: r.epoch, cotWeight: r.cot_weight })) : [],
    );
    const last = rows[rows.length - 1];
    assert.equal(run.finished, true);
    assert.deepEqual(run.last, {
      epoch: last.epoch,
      top1: last.val_acc1,
      top5: last.val_acc5,
      memberTop1: Array.from({ length: split }, (_, m) => last[`val_acc1_member${m}`]),
    });
    const bestTop1 = Math.max(...rows.map((r) => r.val_acc1));
    assert.equal(run.best!.top1, bestTop1);
    assert.equal(run.best!.epoch, rows.find((r) => r.val_acc1 === bestTop1)!.epoch);
    assert.equal(run.bestTop5, Math.max(...rows.map((r) => r.val_acc5)));
    const mean = (k: string) => rows.reduce((a, r) => a + r[k], 0) / rows.length;
    assert.ok(Math.abs(run.secondsPerEpoch! - mean("epoch_seconds")) < 1e-9);
    assert.ok(Math.abs(run.imagesPerSecond! - mean("train_images_per_s")) < 1e-9);
    assert.equal(run.name, basename(dir));
    assert.equal(run.series, "resnet29 · cifar10");
    assert.deepEqual(run.counts, stubCounts("resnet29", split));
  }
});

test("runs that differ only by seed: mean and min–max of the final top-1, per epoch too", () => {
  const dirs = fixtureRuns("sample_runs");
  const data = buildReport(dirs.map(readRun), counts);
  const final = (name: string) => {
    const rows = metricsRows(dirs.find((d) => basename(d) === name)!);
    return rows[rows.length - 1].val_acc1;
  };
  assert.deepEqual(
    data.groups.map((g) => [g.split, g.seeds]),
    [
      [1, [0, 1]],
      [2, [0, 1]],
      [4, [0]],
    ],
  );
  for (const g of data.groups) {
    const vs = g.seeds.map((s) => final(`resnet29-S${g.split}-seed${s}`));
    assert.deepEqual(g.top1, {
      mean: vs.reduce((a, b) => a + b, 0) / vs.length,
      min: Math.min(...vs),
      max: Math.max(...vs),
    });
    assert.equal(g.curve.length, 3);
    assert.deepEqual(g.curve[2], { epoch: 3, ...g.top1 });
  }
  // The trade-off charts: one point per S at the counted params (M) and MACs (M), same series.
  assert.deepEqual(
    data.tradeoffs.map((t) => t.kind),
    ["params", "macs"],
  );
  const [params, macs] = data.tradeoffs;
  assert.deepEqual(
    params.points.map((p) => [p.series, p.label, p.x, p.top1, p.top1Min, p.top1Max, p.n]),
    data.groups.map((g) => [
      "resnet29 · cifar10",
      `S=${g.split}`,
      g.split,
      g.top1.mean,
      g.top1.min,
      g.top1.max,
      g.seeds.length,
    ]),
  );
  assert.deepEqual(
    macs.points.map((p) => p.x),
    [10, 20, 40],
  );
  assert.match(macs.xTitle, /\(M\)$/);
  assert.equal(params.logX, false);
  assert.deepEqual(data.notes, []);
});

test("the paper's points join the trade-off charts only where arch and dataset match", () => {
  const root = tmpDir();
  const dirs = [
    writeRun(
      root,
      "r110-s1",
      { arch: "resnet110", split: 1, seed: 0, epochs: 2, dataset: "cifar100" },
      [70, 78],
    ),
    writeRun(
      root,
      "r110-s2",
      { arch: "resnet110", split: 2, seed: 0, epochs: 2, dataset: "cifar100" },
      [71, 79],
    ),
    writeRun(
      root,
      "r29-s1",
      { arch: "resnet29", split: 1, seed: 0, epochs: 2, dataset: "cifar100" },
      [60, 65],
    ),
  ];
  const data = buildReport(dirs.map(readRun), counts);
  const [params, macs] = data.tradeoffs;
  const paper = params.points.filter((p) => p.source === "paper");
  // Table II (REFERENCE.md §7.1): ResNet-110 at S=1/2/4, errors 18.96 / 18.32 / 19.56.
  assert.deepEqual(
    paper.map((p) => [p.series, p.split, p.top1, p.x]),
    [
      ["paper: resnet110 · cifar100 (Table II, 300 epochs)", 1, 81.04, 1.17],
      ["paper: resnet110 · cifar100 (Table II, 300 epochs)", 2, 81.68, 1.33],
      ["paper: resnet110 · cifar100 (Table II, 300 epochs)", 4, 80.44, 1.21],
    ],
  );
  // GFLOPs are MACs in billions; the chart uses millions for these small models.
  assert.deepEqual(
    macs.points.filter((p) => p.source === "paper").map((p) => Math.round(p.x)),
    [170, 200, 180],
  );
  assert.deepEqual(
    [...new Set(params.points.filter((p) => p.source === "measured").map((p) => p.series))],
    ["resnet110 · cifar100", "resnet29 · cifar100"],
  );
  // resnet110 on CIFAR-10 is not in the paper's tables: no reference series.
  const other = writeRun(
    root,
    "r110-c10",
    { arch: "resnet110", split: 1, seed: 0, epochs: 1, dataset: "cifar10" },
    [50],
  );
  const c10 = buildReport([readRun(other)], counts);
  assert.ok(c10.tradeoffs[0].points.every((p) => p.source === "measured"));
});

test("the paper's points are transcribed with their source, top-1 from errors", () => {
  for (const p of PAPER_POINTS) {
    assert.ok(["Table II", "Table III", "Table IV", "checkpoints.md", "Fig. 3"].includes(p.ref));
    assert.ok(p.top1 > 75 && p.top1 < 100, `${p.arch} S=${p.split}: ${p.top1}`);
    assert.ok((p.paramsM !== undefined) === (p.gmacs !== undefined));
    assert.ok(p.latencyMs !== undefined || p.paramsM !== undefined);
  }
  // Spot checks against REFERENCE.md §7.2 (Table III) and §5 (Fig. 3).
  const wrn = paperPoints("wide_resnet28_10", "cifar10").filter((p) => p.note === "1800 epochs");
  assert.deepEqual(
    wrn.map((p) => [p.split, p.top1]),
    [
      [1, 97.59],
      [2, 98.19],
      [4, 98.32],
    ],
  );
  const fig3 = paperPoints("resnext101_64x4d", "imagenet").filter((p) => p.ref === "Fig. 3");
  assert.deepEqual(
    fig3.map((p) => [p.split, p.latencyMs, p.top1]),
    [
      [1, 1.82, 81.57],
      [2, 1.45, 82.13],
    ],
  );
});

test("latency: the fastest mode per arch and S at the chosen batch; what does not pair is noted", () => {
  const entries = readLatencyFile(fixture("latency_sample.json"));
  assert.equal(entries.length, 11);
  const runs = fixtureRuns("sample_runs").map(readRun);
  const at1 = buildReport(runs, { ...counts, latency: entries });
  const lat = at1.tradeoffs.find((t) => t.kind === "latency")!;
  assert.deepEqual(
    lat.points.map((p) => [p.label, p.x]),
    [
      ["S=1", 3.1],
      ["S=2 fused", 2.6],
      ["S=4 concurrent", 3.4],
    ],
  );
  assert.deepEqual(
    lat.points.map((p) => p.top1),
    at1.groups.map((g) => g.top1.mean),
  );
  assert.deepEqual(at1.notes, [
    "latency of wide_resnet16_8 S=1 on cifar100 has no finished run to pair with",
  ]);
  // Batch 8: per image = per batch / 8; S=4 was not measured there, so it has no point.
  const at8 = buildReport(runs, { ...counts, latency: entries, latencyBatch: 8 });
  assert.deepEqual(
    at8.tradeoffs.find((t) => t.kind === "latency")!.points.map((p) => [p.label, p.x]),
    [
      ["S=1", 1.5],
      ["S=2 concurrent", 13.2 / 8],
    ],
  );
  const at3 = buildReport(runs, { ...counts, latency: entries, latencyBatch: 3 });
  assert.ok(!at3.tradeoffs.some((t) => t.kind === "latency"));
  assert.match(at3.notes.join("\n"), /no latency measured at batch 3 \(the files have batch 1, 8;/);
  assert.deepEqual(
    bestLatencies(entries, 1).map((l) => [l.arch, l.split, l.mode, l.threads, l.latencyMsP90]),
    [
      ["resnet29", 1, "undivided", 2, 3.4],
      ["resnet29", 2, "fused", 2, 2.8],
      ["resnet29", 4, "concurrent", 2, 3.9],
      ["wide_resnet16_8", 1, "undivided", 2, 22.5],
    ],
  );
});

test("latency files: malformed input is rejected naming the file and the entry", () => {
  const dir = tmpDir();
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const ok = {
    arch: "resnet29",
    dataset: "cifar10",
    split: 2,
    mode: "fused",
    batch: 1,
    threads: 2,
    latency_ms_median: 1,
    latency_ms_p90: 2,
    images_per_s: 1000,
  };
  const cases: [string, string, RegExp][] = [
    ["trunc.json", '{"results": [', /trunc\.json: cannot read it as JSON/],
    ["noresults.json", "[]", /noresults\.json: no "results" array/],
    [
      "arch.json",
      JSON.stringify({ results: [ok, { ...ok, arch: 3 }] }),
      /results\[1\]: "arch" must be a non-empty string/,
    ],
    [
      "nan.json",
      JSON.stringify({ results: [{ ...ok, latency_ms_median: "1" }] }),
      /results\[0\]: "latency_ms_median" must be a finite number, got "1"/,
    ],
    ["mode.json", JSON.stringify({ results: [{ ...ok, split: 1 }] }), /mode "fused" with split 1/],
    [
      "split.json",
      JSON.stringify({ results: [{ ...ok, split: 1.5 }] }),
      /"split" must be a positive integer/,
    ],
  ];
  for (const [name, text, re] of cases) assert.throws(() => readLatencyFile(write(name, text)), re);
  assert.equal(
    readLatencyFile(write("good.json", JSON.stringify({ machine: "x", results: [ok] }))).length,
    1,
  );
});

test("series names tell recipes of one arch apart; unfinished and uncountable runs are noted", () => {
  const root = tmpDir();
  const base = { arch: "resnet29", dataset: "cifar10", seed: 0, lr: 0.1, threads: 2 };
  const dirs = [
    writeRun(root, "a", { ...base, split: 1, epochs: 2 }, [50, 60]),
    writeRun(root, "b", { ...base, split: 2, epochs: 2, threads: 1 }, [50, 61]),
    writeRun(root, "c", { ...base, split: 1, epochs: 3 }, [50, 60, 65]),
    writeRun(root, "d", { ...base, split: 2, epochs: 3, seed: 1 }, [50]),
    writeRun(root, "e", { ...base, arch: "nonexistent", split: 2, epochs: 1 }, [40]),
  ];
  const data = buildReport(dirs.map(readRun), {
    counts: (arch, split) => {
      if (arch === "nonexistent") throw new Error(`unknown architecture "${arch}"`);
      return stubCounts(arch, split);
    },
  });
  // threads does not change what a run learns; epochs does.
  assert.deepEqual(
    data.runs.map((r) => r.series),
    [
      "resnet29 · cifar10 (epochs=2)",
      "resnet29 · cifar10 (epochs=2)",
      "resnet29 · cifar10 (epochs=3)",
      "resnet29 · cifar10 (epochs=3)",
      "nonexistent · cifar10",
    ],
  );
  assert.deepEqual(data.notes, [
    'params/MACs of nonexistent S=2 on cifar10 could not be counted: unknown architecture "nonexistent"',
    "d: 1 of 3 epochs logged; not in the trade-off or seed charts until it finishes",
  ]);
  assert.deepEqual(
    data.groups.map((g) => [g.series, g.split]),
    [
      ["nonexistent · cifar10", 2],
      ["resnet29 · cifar10 (epochs=2)", 1],
      ["resnet29 · cifar10 (epochs=2)", 2],
      ["resnet29 · cifar10 (epochs=3)", 1],
    ],
  );
  // The uncounted model has no params/MACs point; the others do.
  assert.deepEqual(
    data.tradeoffs[0].points.map((p) => p.series),
    [
      "resnet29 · cifar10 (epochs=2)",
      "resnet29 · cifar10 (epochs=2)",
      "resnet29 · cifar10 (epochs=3)",
    ],
  );
  assert.equal(data.runs[4].counts, null);
});

test("the recipe line reads the config; keys an older run lacks are left out", () => {
  const cfg = readRun(fixtureRuns("cifar10_short")[2]).config;
  assert.equal(
    recipeLine(cfg),
    "SGD (Nesterov) lr 0.1, cos schedule, 1 warm-up epoch; batch 128; weight decay 0.0001·exp(1/S−1); " +
      "AutoAugment + erasing p=0.5 + mixup α=0.2; js_divergence weight 0.5 (warmed up over 2 epochs); " +
      "data ../shared/data/cifar-10-batches-bin",
  );
  assert.equal(recipeLine({ arch: "resnet29", split: 2 }), "");
  assert.equal(recipeLine({ batchSize: 64, split: 1, cotLoss: "js_divergence" }), "batch 64");
});
