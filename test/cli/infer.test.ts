// `divco infer` end to end on the committed ResNet-29 fixture (S=2, --extra width=4, CIFAR-10):
// the output file's JSON shape and consistency, exit 1 for bad weights or input, exit 2 for
// usage errors (unknown architecture with the nearest names, S not allowed, dataset not defined);
// every execution mode writes the same numbers; --run and a run's checkpoint file load a run;
// images holding NaN/Inf are counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runInfer } from "../../src/cli/infer.js";
import { readSafetensors, saveSafetensorsSync } from "../../src/io/safetensors.js";
import { makeRecord } from "../../src/io/record.js";
import { create } from "../../src/models/index.js";
import { saveCheckpoint } from "../../src/io/run_checkpoint.js";
import { SGD } from "../../src/optim/index.js";
import { MODEL_FIXTURES, runCaptured, tempDir } from "./helpers.js";

const WEIGHTS = path.join(MODEL_FIXTURES, "resnet29_s2_w4.pth");
const REFERENCE = path.join(MODEL_FIXTURES, "resnet29_s2_w4.safetensors");

/** A directory with the fixture's two input images as x.safetensors (tensor "images"). */
function setup(): { dir: string; input: string; output: string; args: string[] } {
  const dir = tempDir("infer");
  const input = path.join(dir, "x.safetensors");
  saveSafetensorsSync(input, new Map([["images", readSafetensors(REFERENCE).tensors.get("x")!]]));
  const output = path.join(dir, "y.json");
  const args = [
    "--arch",
    "resnet29",
    "--split",
    "2",
    "--dataset",
    "cifar10",
    "--weights",
    WEIGHTS,
    "--input",
    input,
    "--output",
    output,
    "--extra",
    "width=4",
  ];
  return { dir, input, output, args };
}

/** args with `flag`'s value replaced (or the flag appended). */
function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  return i < 0 ? [...args, flag, value] : args.map((a, j) => (j === i + 1 ? value : a));
}

test("divco infer writes members, ensemble and predictions as JSON (exit 0)", async () => {
  const { dir, input, output, args } = setup();
  try {
    const r = await runCaptured(runInfer, args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `wrote ${output}: 2 member(s) × 2 image(s) × 10 classes`);
    const doc = JSON.parse(fs.readFileSync(output, "utf8"));
    assert.deepEqual(Object.keys(doc).sort(), [
      "arch",
      "dataset",
      "ensemble",
      "ensemble_rule",
      "input",
      "members",
      "num_classes",
      "predictions",
      "split",
    ]);
    assert.deepEqual(
      {
        arch: doc.arch,
        split: doc.split,
        dataset: doc.dataset,
        num_classes: doc.num_classes,
        ensemble_rule: doc.ensemble_rule,
      },
      {
        arch: "resnet29",
        split: 2,
        dataset: "cifar10",
        num_classes: 10,
        ensemble_rule: "mean of logits",
      },
    );
    assert.deepEqual(doc.input, { file: input, key: "images", shape: [2, 3, 16, 16] });
    // members: S × N × C; ensemble: N × C, the members' mean; predictions: its argmax per image.
    assert.equal(doc.members.length, 2);
    for (const m of doc.members)
      assert.deepEqual([m.length, m[0].length, m[1].length], [2, 10, 10]);
    assert.deepEqual([doc.ensemble.length, doc.ensemble[0].length], [2, 10]);
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 10; c++)
        assert.ok(
          Math.abs(doc.ensemble[n][c] - (doc.members[0][n][c] + doc.members[1][n][c]) / 2) < 1e-5,
        );
      assert.equal(doc.predictions[n], doc.ensemble[n].indexOf(Math.max(...doc.ensemble[n])));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco infer: bad weights or input exit 1 with the reason, and no output file", async () => {
  const { dir, output, args } = setup();
  try {
    const junk = path.join(dir, "junk.pth");
    fs.writeFileSync(junk, "not a checkpoint");
    const gray = path.join(dir, "gray.safetensors");
    saveSafetensorsSync(
      gray,
      new Map([["g", makeRecord("f32", [1, 1, 16, 16], new Uint8Array(4 * 256))]]),
    );
    const cases: [string[], RegExp][] = [
      [withFlag(args, "--weights", junk), /junk\.pth/],
      [withFlag(args, "--weights", path.join(dir, "missing.pth")), /missing\.pth/],
      [withFlag(args, "--split", "4"), /holds 2 member network\(s\).*--split 2/],
      [withFlag(args, "--extra", "width=8"), /expected shape/],
      [withFlag(args, "--input", gray), /has shape \[1,1,16,16\]; expected N×3×H×W/],
      [withFlag(args, "--key", "nope"), /has no tensor "nope"; it has images/],
    ];
    for (const [argv, reason] of cases) {
      const r = await runCaptured(runInfer, argv);
      assert.equal(r.code, 1, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^divco infer: /);
      assert.match(r.stderr, reason);
      assert.ok(!fs.existsSync(output));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco infer: usage errors exit 2 with one line naming the problem", async () => {
  const { dir, output, args } = setup();
  try {
    const cases: [string[], string][] = [
      [withFlag(args, "--arch", "resnet30"), 'unknown architecture "resnet30"; did you mean '],
      [
        withFlag(args, "--split", "3"),
        "resnet29 cannot be divided into S=3; allowed: 1, 2, 4, 8, 16",
      ],
      [withFlag(args, "--split", "two"), '--split takes a positive integer, got "two"'],
      [
        withFlag(args, "--dataset", "imagenet"),
        "resnet29 is not defined for imagenet; it is for cifar10, cifar100, svhn",
      ],
      [
        withFlag(args, "--dataset", "mnist"),
        'unknown dataset "mnist"; use cifar10, cifar100, svhn, imagenet',
      ],
      [withFlag(args, "--num-classes", "0"), '--num-classes takes a positive integer, got "0"'],
      [withFlag(args, "--extra", "width"), '--extra takes KEY=NUMBER, got "width"'],
      [args.slice(2), "missing --arch (or give --run DIR)"],
      [["--arch", "resnet29"], "missing --input, --output"],
      [
        ["--arch", "resnet29", "--input", "x", "--output", "y"],
        "missing --split, --dataset, --weights (or give --run DIR)",
      ],
      [
        [...args, "--run", dir],
        "--run takes the model from the run; drop --weights, --arch, --split, --dataset",
      ],
      [withFlag(args, "--mode", "warp"), "--mode must be one of sequential, concurrent, fused"],
    ];
    for (const [argv, msg] of cases) {
      const r = await runCaptured(runInfer, argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(`divco infer: ${msg}`), r.stderr);
      assert.ok(
        r.stderr.endsWith("(see divco infer --help)") && !r.stderr.includes("\n"),
        r.stderr,
      );
      assert.ok(!fs.existsSync(output));
    }
    // The nearest registered names, closest first.
    const r = await runCaptured(runInfer, withFlag(args, "--arch", "resnet30"));
    assert.match(r.stderr, /did you mean resnet\d+, resnet\d+, resnet\d+\?/);
    assert.match(r.stderr, /resnet29/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco infer --mode concurrent|fused|auto writes what sequential writes (to 1e-5)", async () => {
  const { dir, output, args } = setup();
  try {
    const run = async (mode: string) => {
      const r = await runCaptured(runInfer, [...args, "--mode", mode]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(fs.readFileSync(output, "utf8"));
    };
    const want = await run("sequential");
    for (const mode of ["concurrent", "fused", "auto"]) {
      const got = await run(mode);
      assert.deepEqual(got.predictions, want.predictions, mode);
      const flat = (d: { members: number[][][] }) => d.members.flat(2);
      const diff = Math.max(
        ...flat(got).map((v: number, i: number) => Math.abs(v - flat(want)[i])),
      );
      assert.ok(diff <= 1e-5, `${mode}: ${diff}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco infer --run DIR, and a run's checkpoint file as --weights; NaN/Inf images counted", async () => {
  const { dir, input, output } = setup();
  try {
    // A run directory as divco train leaves it.
    const runDir = path.join(dir, "run");
    fs.mkdirSync(path.join(runDir, "checkpoints"), { recursive: true });
    fs.writeFileSync(
      path.join(runDir, "config.json"),
      JSON.stringify({ arch: "resnet29", split: 2, dataset: "cifar10", ensemble: "mean_logits" }),
    );
    const members = create("resnet29", { split: 2, dataset: "cifar10" });
    const meta = {
      arch: "resnet29",
      split: 2,
      epoch: 1,
      batchIndex: 0,
      step: 1,
      bestAcc1: 0,
      bestEpoch: 0,
      metrics: {},
    };
    saveCheckpoint(
      path.join(runDir, "checkpoints"),
      "best",
      members,
      new SGD(members.parameters(), { lr: 0.1 }),
      meta,
    );
    members.dispose();
    const byRun = await runCaptured(runInfer, [
      "--run",
      runDir,
      "--input",
      input,
      "--output",
      output,
    ]);
    assert.equal(byRun.code, 0, byRun.stderr);
    const a = fs.readFileSync(output, "utf8");
    const byFile = await runCaptured(runInfer, [
      ...["--arch", "resnet29", "--split", "2", "--dataset", "cifar10"],
      ...["--weights", path.join(runDir, "checkpoints", "best.safetensors")],
      ...["--input", input, "--output", output],
    ]);
    assert.equal(byFile.code, 0, byFile.stderr);
    assert.equal(fs.readFileSync(output, "utf8"), a);

    // Image 1 of 2 holds a NaN: counted on stderr, its logits written as null, exit 0.
    const x = readSafetensors(input).tensors.get("images")!;
    const floats = new Float32Array(x.data.slice().buffer);
    floats[floats.length - 5] = NaN;
    const nan = path.join(dir, "nan.safetensors");
    saveSafetensorsSync(
      nan,
      new Map([["images", makeRecord("f32", x.shape, new Uint8Array(floats.buffer))]]),
    );
    const r = await runCaptured(runInfer, ["--run", runDir, "--input", nan, "--output", output]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: 1 of 2 image\(s\) hold NaN or Inf values/);
    const doc = JSON.parse(fs.readFileSync(output, "utf8"));
    assert.ok(doc.ensemble[1].every((v: unknown) => v === null));
    assert.ok(doc.ensemble[0].every((v: unknown) => typeof v === "number"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
