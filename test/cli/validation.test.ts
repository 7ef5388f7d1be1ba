// Issue #10 items 4 and 6 end to end: every option is checked before anything starts, with one
// message style (`divco <cmd>: <origin>: expected <accepted>, got <value> (see divco <cmd>
// --help)`) and exit code 2, and the messages a user could not act on now name the file and
// what to do. Each case was reproduced first (the before-behaviour in the comments).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runTrain } from "../../src/cli/train.js";
import { runEval } from "../../src/cli/eval.js";
import { runDemo } from "../../src/cli/demo.js";
import { runImport } from "../../src/cli/import.js";
import { formatHelp } from "../../src/cli/args.js";
import { TRAIN } from "../../src/cli/train.js";
import { runCaptured, tempDir } from "./helpers.js";

const usage = (cmd: string, msg: string) => `divco ${cmd}: ${msg} (see divco ${cmd} --help)`;

test("divco train: bad values in a --config file or flags are usage errors naming the source (exit 2, nothing written)", async () => {
  const dir = tempDir("validate-train");
  try {
    const runDir = path.join(dir, "run");
    const config = path.join(dir, "c.json");
    const base = ["--arch", "resnet29", "--run-dir", runDir, "--data", "sample"];
    const cases: [object | null, string[], string][] = [
      // Before: trained, and config.json recorded "sameView": "yes".
      [
        { sameView: "yes", epochs: 1 },
        [],
        `config file ${config} key "sameView": expected true or false, got "yes"`,
      ],
      // Before: trained, and config.json recorded "milestones": "abc".
      [
        { milestones: "abc" },
        [],
        `config file ${config} key "milestones": expected a list of integers ≥ 0 such as [100,150], got "abc"`,
      ],
      // Before: "epochs must be a positive integer, got 2".
      [
        { epochs: "2" },
        [],
        `config file ${config} key "epochs": expected an integer ≥ 1, got "2" (a string: write 2 without quotes)`,
      ],
      [null, ["--epochs", "abc"], '--epochs: expected an integer ≥ 1, got "abc"'],
      [null, ["--seed", "1.5"], "--seed: expected an integer ≥ 0, got 1.5"],
      [
        null,
        ["--milestones", "10,x"],
        '--milestones: expected comma-separated integers ≥ 0 such as 100,150, got "10,x"',
      ],
      [
        null,
        ["--on-bad-image", "ignore"],
        '--on-bad-image: expected one of skip, fail, got "ignore"',
      ],
      [null, ["--device", "gpu"], '--device: expected cpu, cuda or cuda:N, got "gpu"'],
    ];
    for (const [file, flags, msg] of cases) {
      const argv = [...base, ...flags];
      if (file) {
        fs.writeFileSync(config, JSON.stringify(file));
        argv.push("--config", config);
      }
      const r = await runCaptured(runTrain, argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr, usage("train", msg));
      assert.ok(!fs.existsSync(runDir), "nothing is written");
    }
    // Garbage in the --config file: the file is named.
    fs.writeFileSync(config, "{ epochs: 2 }");
    const r = await runCaptured(runTrain, [...base, "--config", config]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^divco train: config file ${config} is not valid JSON: `));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco train --resume / divco eval --run: a damaged config.json is named, with the key at fault (exit 2)", async () => {
  const dir = tempDir("validate-resume");
  try {
    const cfg = path.join(dir, "config.json");
    // Before: "Unexpected token 'g', "garbage" is not valid JSON", no file named.
    fs.writeFileSync(cfg, "garbage\n");
    // A resume without a checkpoint to recover the configuration from refuses, naming the file.
    const t = await runCaptured(runTrain, ["--resume", dir]);
    assert.equal(t.code, 2, t.stderr);
    assert.match(
      t.stderr,
      new RegExp(`^divco train: cannot resume: ${cfg} is not valid JSON \\(Unexpected token`),
    );
    const e = await runCaptured(runEval, ["--run", dir]);
    assert.equal(e.code, 2, e.stderr);
    assert.match(
      e.stderr,
      new RegExp(`^divco eval: run config ${cfg} is not valid JSON: Unexpected token`),
    );
    // A run recorded before values were checked: resuming names the key and the file.
    fs.writeFileSync(cfg, JSON.stringify({ arch: "resnet29", runDir: dir, sameView: "yes" }));
    const r = await runCaptured(runTrain, ["--resume", dir]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      usage("train", `run config ${cfg} key "sameView": expected true or false, got "yes"`),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco eval and demo: numeric flags are checked first, whatever else is wrong (exit 2)", async () => {
  const dir = tempDir("validate-eval");
  try {
    const cases: [typeof runEval, string, string[], string][] = [
      // Before (issue #10): `--eval-limit abc` evaluated all 1000 images.
      [
        runEval,
        "eval",
        ["--run", path.join(dir, "none"), "--eval-limit", "abc"],
        '--eval-limit takes an integer ≥ 0, got "abc"',
      ],
      [
        runEval,
        "eval",
        ["--run", path.join(dir, "none"), "--batch-size", "1.5"],
        '--batch-size takes a positive integer, got "1.5"',
      ],
      [runDemo, "demo", ["--split", "1"], '--split takes an integer ≥ 2, got "1"'],
      [runDemo, "demo", ["--epochs", "x"], '--epochs takes an integer ≥ 2, got "x"'],
      // One epoch would be all warm-up: refused before anything runs, not by the trainer later.
      [runDemo, "demo", ["--epochs", "1"], '--epochs takes an integer ≥ 2, got "1"'],
    ];
    for (const [run, cmd, argv, msg] of cases) {
      const r = await runCaptured(run, argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr, usage(cmd, msg));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco import --from DIR: says it is a directory and which files in it look like weights (exit 1)", async () => {
  const dir = tempDir("validate-import");
  try {
    fs.writeFileSync(path.join(dir, "model_best.pth.tar"), "x");
    const to = path.join(dir, "out.safetensors");
    // Before: "EISDIR: illegal operation on a directory, read".
    const r = await runCaptured(runImport, ["--from", dir, "--to", to]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `divco import: ${dir} is a directory; give the weights file itself (a torch.save checkpoint such as model_best.pth.tar, or a .safetensors file); it holds ${dir}/model_best.pth.tar`,
    );
    assert.ok(!fs.existsSync(to));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco train --help states --on-bad-image's default and what it applies to", () => {
  const help = formatHelp(TRAIN);
  assert.match(help, /--on-bad-image MODE\s+fail\s+ImageNet folders:/);
  assert.match(help, /CIFAR\/SVHN records cannot be bad/);
  assert.match(help, /never skipped/);
});

test("divco train on a folder whose val/ has an undecodable image: refused before training, exit 1, the file named", async () => {
  const root = tempDir("validate-val");
  try {
    for (const split of ["train", "val"])
      for (const cls of ["a", "b"]) {
        fs.mkdirSync(path.join(root, split, cls), { recursive: true });
        fs.writeFileSync(path.join(root, split, cls, "x.jpg"), "not a jpeg");
      }
    const runDir = path.join(root, "run");
    const r = await runCaptured(runTrain, [
      ...["--arch", "efficientnetb0", "--split", "4", "--dataset", "imagenet", "--data", root],
      ...["--run-dir", runDir, "--on-bad-image", "skip", "--threads", "1"],
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^divco train: the evaluation split .*-val has 2 of 2 image files that cannot be decoded \(2 not an image\):\n/,
    );
    assert.ok(r.stderr.includes(path.join(root, "val", "a", "x.jpg")));
    assert.ok(!fs.existsSync(runDir));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
