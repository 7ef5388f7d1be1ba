// `divco summary` end to end: the JSON it prints (--json, --list --json), the table, and exit 2
// for usage errors (unknown architecture with the nearest names, S not allowed, dataset not defined).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSummary } from "../../src/cli/summary.js";
import { list } from "../../src/models/index.js";
import { runCaptured } from "./helpers.js";

test("divco summary --json: params and MACs per S, per member and in total, with ratios to S=1", async () => {
  const r = await runCaptured(runSummary, [
    "--arch",
    "resnet29",
    "--split",
    "1,2",
    "--dataset",
    "cifar10",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), ["arch", "dataset", "crop", "num_classes", "splits"]);
  assert.deepEqual(
    [doc.arch, doc.dataset, doc.crop, doc.num_classes],
    ["resnet29", "cifar10", 32, 10],
  );
  assert.deepEqual(
    doc.splits.map((s: { split: number }) => s.split),
    [1, 2],
  );
  for (const s of doc.splits) {
    assert.deepEqual(Object.keys(s), [
      "split",
      "params_total",
      "params_per_member",
      "macs_total",
      "macs_per_member",
      "params_ratio",
      "macs_ratio",
      "summary_py",
    ]);
    assert.equal(s.params_per_member.length, s.split);
    assert.equal(s.macs_per_member.length, s.split);
    assert.equal(
      s.params_total,
      s.params_per_member.reduce((a: number, b: number) => a + b, 0),
    );
    assert.equal(
      s.macs_total,
      s.macs_per_member.reduce((a: number, b: number) => a + b, 0),
    );
    assert.equal(s.params_ratio, s.params_total / doc.splits[0].params_total);
    assert.equal(s.macs_ratio, s.macs_total / doc.splits[0].macs_total);
    assert.deepEqual(Object.keys(s.summary_py), ["params_total", "flops_total"]);
    assert.ok(
      s.summary_py.params_total > s.params_total,
      "summary.py counts BN running statistics too",
    );
  }
  assert.equal(doc.splits[0].params_ratio, 1);
  // Dividing into two members costs a little more than the undivided network (REFERENCE.md §1).
  assert.ok(
    doc.splits[1].params_ratio > 1 && doc.splits[1].params_ratio < 1.3,
    String(doc.splits[1].params_ratio),
  );
});

test("divco summary --keys --json adds each member's state-dict keys and shapes; the table form", async () => {
  const r = await runCaptured(runSummary, [
    "--arch",
    "resnet29",
    "--split",
    "2",
    "--dataset",
    "cifar10",
    "--keys",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const keys = JSON.parse(r.stdout).splits[0].keys as Record<string, number[]>;
  assert.deepEqual(keys["models.1.fc.weight"].length, 2);
  assert.equal(keys["models.1.fc.weight"][0], 10);
  const table = await runCaptured(runSummary, [
    "--arch",
    "resnet29",
    "--split",
    "1,2",
    "--dataset",
    "cifar10",
  ]);
  assert.equal(table.code, 0);
  const lines = table.stdout.split("\n");
  assert.equal(lines[0], "resnet29 on cifar10 (10 classes, 32×32 input)");
  assert.match(
    lines[1],
    /^S +params\/member +params total +×S=1 +MACs\/member +MACs total +×S=1 +summary\.py params +summary\.py flops\(M\)$/,
  );
  assert.match(lines[3], /^1 .* 1\.000 .* 1\.000 /);
  assert.match(lines[4], /^2 /);
});

test("divco summary --list --json: every registered architecture with its S and datasets", async () => {
  const r = await runCaptured(runSummary, ["--list", "--json"]);
  assert.equal(r.code, 0);
  const archs = JSON.parse(r.stdout);
  assert.deepEqual(archs, list());
  const resnet29 = archs.find((a: { name: string }) => a.name === "resnet29")!;
  assert.deepEqual(Object.keys(resnet29).sort(), [
    "datasets",
    "description",
    "family",
    "name",
    "splits",
  ]);
  assert.deepEqual(resnet29.datasets, ["cifar10", "cifar100", "svhn"]);
});

test("divco summary: usage errors exit 2 with one line naming the problem", async () => {
  const cases: [string[], string][] = [
    [[], "--arch NAME is required (or --list)"],
    [
      ["--arch", "wide_resnet28_1"],
      'unknown architecture "wide_resnet28_1"; did you mean wide_resnet28_10',
    ],
    [
      ["--arch", "resnet29", "--split", "1,3"],
      "resnet29 cannot be divided into S=3; allowed: 1, 2, 4, 8, 16",
    ],
    [
      ["--arch", "resnet29", "--split", "1,x"],
      '--split takes positive integers separated by commas, got "1,x"',
    ],
    [
      ["--arch", "resnet29", "--dataset", "imagenet"],
      "resnet29 is not defined for imagenet; it is for cifar10, cifar100, svhn",
    ],
    [
      ["--arch", "resnet29", "--dataset", "mnist"],
      'unknown dataset "mnist"; use cifar10, cifar100, svhn, imagenet',
    ],
    [["--arch", "resnet29", "--crop", "0"], '--crop takes a positive integer, got "0"'],
    [["--arch", "resnet29", "--split"], "--split needs a value (S,S,...)"],
  ];
  for (const [argv, msg] of cases) {
    const r = await runCaptured(runSummary, argv);
    assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.ok(r.stderr.startsWith(`divco summary: ${msg}`), r.stderr);
    assert.ok(
      r.stderr.endsWith("(see divco summary --help)") && !r.stderr.includes("\n"),
      r.stderr,
    );
  }
});
