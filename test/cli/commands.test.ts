// Usage errors and exit codes of the commands without their own end-to-end test here (train,
// eval, report, data), and the shared model-choosing flags: every command reports a bad
// architecture, S or dataset through the registry's one check, as a usage error (exit 2).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runTrain } from "../../src/cli/train.js";
import { runEval } from "../../src/cli/eval.js";
import { runReport } from "../../src/cli/report.js";
import { runData } from "../../src/cli/data.js";
import { archFromFlags } from "../../src/cli/arch_flags.js";
import { ArchError, create, lookup, resolveArch } from "../../src/models/registry.js";
import "../../src/models/index.js";
import { saveTensors } from "../../src/io/tensors.js";
import { runCaptured, tempDir } from "./helpers.js";

const usageLine = (cmd: string, msg: string) =>
  new RegExp(
    `^divco ${cmd}: ${msg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.* \\(see divco ${cmd} --help\\)$`,
  );

test("registry: resolveArch checks name, S and dataset with one set of messages; create() uses it", () => {
  assert.equal(resolveArch("resnet29").name, "resnet29");
  assert.equal(lookup("resnet29"), resolveArch("resnet29", { split: 4, dataset: "svhn" }));
  const rejects: [() => unknown, RegExp][] = [
    [
      () => resolveArch("resnet290"),
      /^unknown architecture "resnet290"; did you mean resnet29, .*\? \(divco summary --list shows all\)$/,
    ],
    [
      () => resolveArch("resnet29", { split: 3 }),
      /^resnet29 cannot be divided into S=3; allowed: 1, 2, 4, 8, 16$/,
    ],
    [
      () => resolveArch("resnet29", { dataset: "imagenet" }),
      /^resnet29 is not defined for imagenet; it is for cifar10, cifar100, svhn$/,
    ],
    [
      () => resolveArch("resnet29", { dataset: "mnist" }),
      /^unknown dataset "mnist"; use cifar10, cifar100, svhn, imagenet$/,
    ],
    [() => create("resnet29", { split: 3, dataset: "cifar10" }), /cannot be divided into S=3/],
    [() => create("resnet29", { split: 2, dataset: "imagenet" }), /is not defined for imagenet/],
    [() => lookup("nope"), /unknown architecture "nope"/],
  ];
  for (const [f, msg] of rejects)
    assert.throws(
      f,
      (e: Error) => e instanceof ArchError && e.name === "ArchError" && msg.test(e.message),
    );
});

test("archFromFlags: integers checked, CIFAR archs default to CIFAR-100, --extra parsed", () => {
  assert.deepEqual(
    archFromFlags({ arch: "resnet29", split: "2", extra: ["width=4", "dropout=0.1"] }),
    {
      entry: lookup("resnet29"),
      split: 2,
      dataset: "cifar100",
      numClasses: undefined,
      extra: { width: 4, dropout: 0.1 },
    },
  );
  assert.equal(archFromFlags({ arch: "resnet50", split: "1" }).dataset, "imagenet");
  assert.equal(
    archFromFlags({ arch: "resnet29", split: "1", dataset: "svhn", "num-classes": "7" }).numClasses,
    7,
  );
  assert.throws(() => archFromFlags({ arch: "nope", split: "1" }), ArchError);
  assert.throws(
    () => archFromFlags({ arch: "resnet29", split: "1.5" }),
    /--split takes a positive integer, got "1.5"/,
  );
  assert.throws(
    () => archFromFlags({ arch: "resnet29", split: "1", extra: ["w=x"] }),
    /--extra takes KEY=NUMBER, got "w=x"/,
  );
});

test("divco train: flag, config and architecture errors are usage errors (exit 2), before a run directory exists", async () => {
  const dir = tempDir("train");
  try {
    const runDir = path.join(dir, "run");
    const base = ["--run-dir", runDir, "--data", "sample", "--epochs", "1", "--warmup-epochs", "0"];
    const cases: [string[], string][] = [
      [["--arch", "nope", ...base], 'unknown architecture "nope"; did you mean'],
      [
        ["--arch", "resnet29", "--split", "3", ...base],
        "resnet29 cannot be divided into S=3; allowed: 1, 2, 4, 8, 16",
      ],
      [
        ["--arch", "resnet29", "--dataset", "imagenet", ...base.slice(0, 2)],
        "resnet29 is not defined for imagenet",
      ],
      [["--arch", "resnet29", "--lr", "fast", ...base], '--lr: expected a number ≥ 0, got "fast"'],
      [
        ["--arch", "resnet29", "--optimizer", "Adam", ...base],
        '--optimizer: expected one of SGD, AdamW, RMSprop, got "Adam"',
      ],
      [["--arch", "resnet29"], "--run-dir DIR is required (or --resume DIR)"],
      [["--arch", "resnet29", "--epochs"], "--epochs needs a value (N)"],
      [["--arch", "resnet29", "--no-lr", ...base], "unknown flag --no-lr"],
    ];
    for (const [argv, msg] of cases) {
      const r = await runCaptured(runTrain, argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, usageLine("train", msg));
      assert.ok(!fs.existsSync(runDir), "nothing is written");
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco eval: usage errors exit 2", async () => {
  const dir = tempDir("eval");
  try {
    fs.writeFileSync(
      path.join(dir, "config.json"),
      JSON.stringify({
        arch: "resnet29",
        split: 2,
        dataset: "cifar10",
        data: "sample",
        ensemble: "mean_logits",
      }),
    );
    const w = ["--weights", path.join(dir, "w.safetensors"), "--dataset", "cifar10"];
    const cases: [string[], string][] = [
      [[], "give --run DIR, or --weights with --arch, --split and --dataset"],
      [["--run", dir, "--arch", "resnet29"], "--run takes the model from the run; drop --arch"],
      [
        ["--run", path.join(dir, "nothing")],
        `${path.join(dir, "nothing")} is not a divco run directory (no config.json)`,
      ],
      [
        [...w, "--arch", "resnet290", "--split", "2"],
        'unknown architecture "resnet290"; did you mean resnet29',
      ],
      [[...w, "--arch", "resnet29", "--split", "3"], "resnet29 cannot be divided into S=3"],
      [
        [...w, "--arch", "resnet29", "--split", "2", "--ensemble", "vote"],
        '--ensemble must be one of mean_logits, mean_probs, max, geometric, got "vote"',
      ],
      [["--run", dir, "--on", "val"], '--on must be test or train, got "val"'],
      [["--run", dir, "--batch-size", "0"], '--batch-size takes a positive integer, got "0"'],
    ];
    for (const [argv, msg] of cases) {
      const r = await runCaptured(runEval, argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, usageLine("eval", msg));
    }
    // A run directory without checkpoints: a failure (exit 1), not a usage error.
    const r = await runCaptured(runEval, ["--run", dir]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^divco eval: /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco report: run directories as arguments or --run; an unreadable one exits 1", async () => {
  const dir = tempDir("report");
  try {
    const run = path.join(dir, "r");
    fs.mkdirSync(run);
    fs.writeFileSync(
      path.join(run, "config.json"),
      JSON.stringify({ arch: "resnet29", split: 2, seed: 0, epochs: 1 }),
    );
    const byArg = await runCaptured(runReport, [run, "--json"]);
    assert.equal(byArg.code, 0, byArg.stderr);
    assert.equal(byArg.stdout, (await runCaptured(runReport, ["--run", run, "--json"])).stdout);
    assert.equal(JSON.parse(byArg.stdout).length, 1);
    const bad = await runCaptured(runReport, [dir]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `divco report: ${dir} is not a divco run directory (no config.json)`);
    const under = await runCaptured(runReport, ["--under", path.join(dir, "none")]);
    assert.equal(under.code, 2);
    assert.match(
      under.stderr,
      usageLine("report", `--under ${path.join(dir, "none")} does not exist`),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco data: a missing or unknown subcommand and stray arguments are usage errors (exit 2)", async () => {
  const cases: [string[], string][] = [
    [[], "missing subcommand (get, check, info)"],
    [["fetch", "cifar10"], 'unknown subcommand "fetch" (get, check, info)'],
    [["info", "cifar10"], "unexpected argument: cifar10"],
    [["check", "cifar10", "extra"], "unexpected argument: extra"],
    [["check"], "check needs a dataset name"],
    [["check", "mnist"], 'unknown dataset "mnist" (cifar10, cifar100, svhn, imagenet)'],
    [["get", "svhn"], 'cannot download "svhn"'],
    [["check", "cifar10", "--dir"], "--dir needs a value (D)"],
  ];
  for (const [argv, msg] of cases) {
    const r = await runCaptured(runData, argv);
    assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, usageLine("data", msg));
  }
  const help = await runCaptured(runData, ["help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: divco data get <cifar10\|cifar100>/m);
});

test("divco eval --mode: every execution mode gives today's accuracy, and ms/image", async () => {
  const dir = tempDir("eval-mode");
  try {
    const weights = path.join(dir, "w.safetensors");
    const members = create("resnet29", { split: 2, dataset: "cifar10" });
    saveTensors(weights, members.stateDict());
    members.dispose();
    const common = [
      ...["--weights", weights, "--arch", "resnet29", "--split", "2", "--dataset", "cifar10"],
      ...["--data", "sample", "--eval-limit", "40", "--batch-size", "20", "--json"],
    ];
    const results = [];
    for (const mode of ["sequential", "concurrent", "fused"]) {
      const r = await runCaptured(runEval, [...common, "--mode", mode]);
      assert.equal(r.code, 0, r.stderr);
      results.push(JSON.parse(r.stdout));
    }
    for (const r of results) {
      assert.equal(r.images, 40);
      assert.ok(r.ms_per_image > 0);
      assert.deepEqual(
        [r.top1, r.top5, r.memberTop1],
        [results[0].top1, results[0].top5, results[0].memberTop1],
      );
      assert.ok(Math.abs(r.loss - results[0].loss) < 1e-5);
    }
    assert.deepEqual(
      results.map((r) => r.mode),
      ["sequential", "concurrent", "fused"],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
