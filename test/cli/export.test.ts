// `divco export` end to end: the committed ResNet-29 checkpoint (PyTorch-trained weights, S=2,
// --extra width=4) written as one ensemble graph and verified in ONNX Runtime (text and --json);
// a run directory gives its own ensemble rule and class names (separate layout and manifest);
// --no-verify; a model that fails verification exits 1 and says why; a missing weights file
// exits 1; bad flags are usage errors (exit 2).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runExport } from "../../src/cli/export.js";
import { create } from "../../src/models/index.js";
import { saveCheckpoint } from "../../src/io/run_checkpoint.js";
import { saveTensors } from "../../src/io/tensors.js";
import { manualSeed } from "../../src/tensor/index.js";
import { SGD } from "../../src/optim/index.js";
import { CIFAR10_CLASSES } from "../../src/data/cifar.js";
import { MODEL_FIXTURES, runCaptured, tempDir } from "./helpers.js";

const MODEL = [
  ...["--weights", path.join(MODEL_FIXTURES, "resnet29_s2_w4.pth")],
  ...["--arch", "resnet29", "--split", "2", "--dataset", "cifar10", "--extra", "width=4"],
];

test("divco export: an ensemble graph from a weights file, verified in ONNX Runtime", async () => {
  const dir = tempDir("export");
  try {
    const out = path.join(dir, "model.onnx");
    const r = await runCaptured(runExport, [...MODEL, "--out", out, "--threads", "1"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.match(
      lines[0],
      /^wrote .*model\.onnx \([\d.]+ MiB\): resnet29 ensemble of 2 member\(s\), \d+ nodes, outputs ensemble, member_0, member_1$/,
    );
    assert.match(
      lines[1],
      /^input "input" \[N, 3, 32, 32\] float32, opset 17, 62 batch norm\(s\) folded$/,
    );
    assert.match(lines[2], /^verify: onnxruntime-node [\d.]+, batch 4, seed 0, tolerance 0\.0001/);
    for (const [i, name] of ["ensemble", "member_0", "member_1"].entries())
      assert.match(lines[3 + i], new RegExp(`^  ok   model\\.onnx ${name}: max \\|Δ\\| `));
    assert.ok(fs.statSync(out).size > 0);

    const j = await runCaptured(runExport, [
      ...MODEL,
      ...["--out", out, "--json", "--batch", "2", "--opset", "13", "--no-fold-bn"],
    ]);
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    assert.deepEqual(
      [doc.arch, doc.split, doc.layout, doc.batch, doc.opset, doc.rule, doc.foldedBatchNorms],
      ["resnet29", 2, "ensemble", 2, 13, "mean_logits", 0],
    );
    assert.equal(doc.verify.batch, 2);
    assert.equal(doc.verify.ok, true);
    assert.equal(doc.verify.checks.length, 3);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco export --run: the run's rule and class names; separate members with a manifest", async () => {
  const dir = tempDir("export-run");
  const members = create("resnet29", { split: 2, dataset: "cifar10", extra: {} });
  try {
    const run = path.join(dir, "run");
    fs.mkdirSync(path.join(run, "checkpoints"), { recursive: true });
    fs.writeFileSync(
      path.join(run, "config.json"),
      JSON.stringify({ arch: "resnet29", split: 2, dataset: "cifar10", ensemble: "max" }),
    );
    const meta = { arch: "resnet29", split: 2, epoch: 1, batchIndex: 0, step: 1, bestAcc1: 0 };
    const opt = new SGD(members.parameters(), { lr: 0.1 });
    saveCheckpoint(path.join(run, "checkpoints"), "best", members, opt, {
      ...meta,
      bestEpoch: 0,
      metrics: {},
    });
    const out = path.join(dir, "deploy", "cifar.onnx");
    fs.mkdirSync(path.dirname(out));
    const r = await runCaptured(runExport, ["--run", run, "--out", out, "--members", "separate"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(path.dirname(out)).sort(), [
      "cifar.json",
      "cifar.member_0.onnx",
      "cifar.member_1.onnx",
    ]);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "deploy", "cifar.json"), "utf8"));
    assert.equal(manifest.rule, "max");
    assert.deepEqual(manifest.class_names, CIFAR10_CLASSES);
    assert.match(r.stdout, /ok {3}cifar\.json ensemble \(max of the members\)/);

    const skip = await runCaptured(runExport, ["--run", run, "--out", out, "--no-verify"]);
    assert.equal(skip.code, 0, skip.stderr);
    assert.match(skip.stdout, /verify: skipped \(--no-verify\)/);
  } finally {
    members.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco export: a missing weights file exits 1; bad flags are usage errors", async () => {
  const dir = tempDir("export-bad");
  try {
    const out = path.join(dir, "m.onnx");
    const gone = await runCaptured(runExport, [
      ...["--weights", path.join(dir, "nothing.pth"), "--arch", "resnet29", "--split", "2"],
      ...["--out", out],
    ]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^divco export: .*nothing\.pth: no such file/);
    const usage: [string[], RegExp][] = [
      [["--members", "all"], /--members must be one of ensemble, separate, fused, got "all"/],
      [["--batch", "0"], /--batch takes a positive integer, got "0"/],
      [["--opset", "12"], /--opset must be 13 to 21, got 12/],
      [["--format", "tflite"], /--format must be onnx, got "tflite"/],
      [["--rule", "vote"], /--rule must be one of mean_logits, mean_probs, max, geometric/],
      [
        ["--batch", "3", "--verify-batch", "2"],
        /--verify-batch 2 differs from the fixed --batch 3/,
      ],
      [["--arch", "resnet2"], /unknown architecture "resnet2"/],
    ];
    for (const [flags, message] of usage) {
      const args = [...MODEL, "--out", out];
      const i = args.indexOf(flags[0]);
      if (i >= 0) args.splice(i, 2);
      const r = await runCaptured(runExport, [...args, ...flags]);
      assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const noOut = await runCaptured(runExport, MODEL);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /--out/);
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco export: a failed verification exits 1, keeps the file and says whether rounding explains it", async () => {
  const dir = tempDir("export-fail");
  // Untrained SE-ResNet-164 with the reference's initialisation: activations grow through its
  // 54 residual blocks until float32 rounding changes its logits by ~10% (float64 disagrees too).
  manualSeed(7);
  const members = create("se_resnet164", { split: 2, dataset: "cifar100" });
  try {
    const weights = path.join(dir, "untrained.safetensors");
    saveTensors(weights, members.stateDict());
    const out = path.join(dir, "m.onnx");
    const r = await runCaptured(runExport, [
      ...["--weights", weights, "--arch", "se_resnet164", "--split", "2", "--dataset", "cifar100"],
      ...["--out", out, "--verify-batch", "2"],
    ]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /FAIL m\.onnx member_\d: max \|Δ\| /);
    assert.match(
      r.stderr,
      /differs from divco's forward beyond 0\.0001 relative .* the files are kept for inspection/,
    );
    assert.match(
      r.stderr,
      /divco's own float32 forward differs from its float64 forward by \d\.\d\de-\d+ relative on the same batch: this model amplifies float32 rounding/,
    );
    assert.ok(fs.existsSync(out));
  } finally {
    members.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
