// `divco import` end to end on the committed ResNet-29 fixture (a legacy-format torch.save of the
// reference's checkpoint layout): exit 0 with and without the fit check, 1 for a checkpoint that
// is unreadable or does not fit (nothing written), 2 for usage errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runImport } from "../../src/cli/import.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { MODEL_FIXTURES, runCaptured, tempDir } from "./helpers.js";

const PTH = path.join(MODEL_FIXTURES, "resnet29_s2_w4.pth");

test("divco import converts, checked against the architecture when --arch is given (exit 0)", async () => {
  const dir = tempDir("import");
  try {
    const to = path.join(dir, "w.safetensors");
    const checked = [
      "--from",
      PTH,
      "--to",
      to,
      "--arch",
      "resnet29",
      "--split",
      "2",
      "--dataset",
      "cifar10",
      "--extra",
      "width=4",
    ];
    const r = await runCaptured(runImport, checked);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^wrote .*w\.safetensors: \d+ tensors, [\d,]+ values \(checked against resnet29 S=2\)$/,
    );
    const saved = readSafetensors(to);
    assert.deepEqual(
      {
        arch: saved.metadata.arch,
        split: saved.metadata.split,
        dataset: saved.metadata.dataset,
        epoch: saved.metadata.epoch,
        format: saved.metadata.format,
      },
      { arch: "resnet29", split: "2", dataset: "cifar10", epoch: "3", format: "pt" },
    );
    assert.ok(
      [...saved.tensors.keys()].every((k) => /^models\.[01]\./.test(k)),
      "member keys without the DataParallel prefix",
    );
    // Without --arch it converts whatever the file holds.
    const plain = path.join(dir, "plain.safetensors");
    assert.equal((await runCaptured(runImport, ["--from", PTH, "--to", plain])).code, 0);
    assert.deepEqual(
      [...readSafetensors(plain).tensors.keys()].sort(),
      [...saved.tensors.keys()].sort(),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco import: an unreadable or misfitting checkpoint exits 1 and writes nothing", async () => {
  const dir = tempDir("import-bad");
  try {
    const to = path.join(dir, "w.safetensors");
    const junk = path.join(dir, "junk.pth");
    fs.writeFileSync(junk, "not a checkpoint");
    const cases: [string[], RegExp][] = [
      [["--from", junk, "--to", to], /junk\.pth/],
      [["--from", path.join(dir, "missing.pth"), "--to", to], /missing\.pth/],
      // The registered widths, not the fixture's shrunken ones.
      [
        ["--from", PTH, "--to", to, "--arch", "resnet29", "--split", "2", "--dataset", "cifar10"],
        /expected shape/,
      ],
      [
        [
          "--from",
          PTH,
          "--to",
          to,
          "--arch",
          "resnet29",
          "--split",
          "4",
          "--dataset",
          "cifar10",
          "--extra",
          "width=4",
        ],
        /holds 2 member network\(s\)/,
      ],
      // cifar100 is the default dataset of CIFAR architectures: 100 outputs, the checkpoint has 10.
      [
        ["--from", PTH, "--to", to, "--arch", "resnet29", "--split", "2", "--extra", "width=4"],
        /10 outputs .* 100 classes/,
      ],
      [
        ["--from", path.join(MODEL_FIXTURES, "resnet29_s2_w4.safetensors"), "--to", to],
        /already a safetensors file/,
      ],
    ];
    for (const [argv, reason] of cases) {
      const r = await runCaptured(runImport, argv);
      assert.equal(r.code, 1, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^divco import: /);
      assert.match(r.stderr, reason);
      assert.ok(!fs.existsSync(to));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("divco import: usage errors exit 2 with one line naming the problem", async () => {
  const dir = tempDir("import-usage");
  try {
    const to = path.join(dir, "w.safetensors");
    const cases: [string[], string][] = [
      [["--to", to], "missing --from"],
      [["--from", PTH, "--to", PTH], "--to must differ from --from"],
      [["--from", PTH, "--to", to, "--split", "2"], "--split only applies with --arch"],
      [
        ["--from", PTH, "--to", to, "--dataset", "cifar10", "--extra", "width=4"],
        "--dataset/--extra only apply with --arch",
      ],
      [
        ["--from", PTH, "--to", to, "--arch", "resnet_29"],
        'unknown architecture "resnet_29"; did you mean resnet29',
      ],
      [
        ["--from", PTH, "--to", to, "--arch", "resnet29", "--split", "3"],
        "resnet29 cannot be divided into S=3; allowed: 1, 2, 4, 8, 16",
      ],
      [
        ["--from", PTH, "--to", to, "--arch", "resnet50", "--dataset", "cifar10"],
        "resnet50 is not defined for cifar10; it is for imagenet",
      ],
      [["--frm", PTH], "unknown flag --frm"],
    ];
    for (const [argv, msg] of cases) {
      const r = await runCaptured(runImport, argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(`divco import: ${msg}`), r.stderr);
      assert.ok(
        r.stderr.endsWith("(see divco import --help)") && !r.stderr.includes("\n"),
        r.stderr,
      );
      assert.ok(!fs.existsSync(to));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
