// Checkpoint compatibility with the reference implementation: PyTorch-written checkpoints
// ({'state_dict': {'module.models.i.…'}}, zip and legacy formats) load strictly into divco's
// members and give PyTorch's logits; `divco import` / `divco infer` round-trip them; bad
// checkpoints are refused with a clear message and leave the model untouched.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "../../src/models/index.js";
import { loadMembers, readWeights } from "../../src/models/checkpoint.js";
import { runImport } from "../../src/cli/import.js";
import { runInfer } from "../../src/cli/infer.js";
import { readSafetensors, saveSafetensorsSync } from "../../src/io/safetensors.js";
import { recordToTensor } from "../../src/io/tensors.js";
import { noGrad } from "../../src/tensor/index.js";
import type { DatasetKind } from "../../src/models/index.js";
import type { TensorRecord } from "../../src/io/record.js";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const FIX = path.join(ROOT, "test", "fixtures", "models");
interface Config {
  name: string;
  arch: string;
  split: number;
  dataset: DatasetKind;
  extra: Record<string, number>;
  legacy_format: boolean;
}
const CONFIGS: Config[] = JSON.parse(fs.readFileSync(path.join(FIX, "index.json"), "utf8"));

function quiet() {
  const lines: string[] = [];
  return { lines, out: { log: (s: string) => lines.push(s), err: (s: string) => lines.push(s) } };
}

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "divco-models-"));
}

/**
 * Logits agree with PyTorch's to |a − b| ≤ 1e-5 + 1e-4·|b| (torch.allclose's form). A purely
 * relative bound failed on logits near zero: −0.0075025 vs −0.0075010 is fp32 summation-order
 * noise that depends on the host CPU's vector width, not a wrong model.
 */
function assertLogitsClose(a: number[], b: number[], what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(
      Math.abs(a[i] - b[i]) <= 1e-5 + 1e-4 * Math.abs(b[i]),
      `${what}: element ${i} is ${a[i]}, PyTorch gives ${b[i]}`,
    );
  }
}

for (const c of CONFIGS) {
  test(`${c.name}: the PyTorch checkpoint (${c.legacy_format ? "legacy" : "zip"} format) loads strictly and gives PyTorch's logits`, () => {
    const w = readWeights(path.join(FIX, `${c.name}.pth`));
    assert.equal(w.format, "pytorch");
    assert.ok(
      [...w.tensors.keys()].every((k) => k.startsWith("models.")),
      "module. prefix stripped",
    );
    assert.equal(w.info.epoch, 3);
    const members = create(c.arch, { split: c.split, dataset: c.dataset, extra: c.extra });
    try {
      loadMembers(members, w.tensors, c.name);
      members.eval();
      const ref = readSafetensors(path.join(FIX, `${c.name}.safetensors`)).tensors;
      const x = recordToTensor(ref.get("x")!);
      noGrad(() => {
        const outs = members.forwardEach(x);
        outs.forEach((o, i) => {
          const want = recordToTensor(ref.get(`logits.${i}`)!);
          assertLogitsClose(o.toArray(), want.toArray(), `member ${i} logits`);
          want.dispose();
          o.dispose();
        });
        const ens = members.forward(x);
        const want = recordToTensor(ref.get("ensemble")!);
        assertLogitsClose(ens.toArray(), want.toArray(), "ensemble logits");
        ens.dispose();
        want.dispose();
      });
      x.dispose();
    } finally {
      members.dispose();
    }
  });
}

test("divco import → divco infer reproduces PyTorch's member and ensemble logits", async () => {
  const c = CONFIGS[0];
  const dir = tmpdir();
  try {
    const st = path.join(dir, "w.safetensors");
    const q = quiet();
    const args = [
      "--from",
      path.join(FIX, `${c.name}.pth`),
      "--to",
      st,
      "--arch",
      c.arch,
      "--split",
      String(c.split),
      "--dataset",
      c.dataset,
    ];
    // The shrunken fixture does not fit the registered widths: import's check refuses it, writes nothing.
    assert.equal(await runImport(args, q.out), 1);
    assert.match(q.lines.join("\n"), /expected shape/);
    assert.ok(!fs.existsSync(st));
    // Without the check it converts; metadata keeps the checkpoint's scalars.
    assert.equal(await runImport(args.slice(0, 4), q.out), 0, q.lines.join("\n"));
    const saved = readSafetensors(st);
    assert.equal(saved.metadata.epoch, "3");
    assert.equal(saved.metadata.arch, c.arch);
    assert.ok(saved.tensors.has("models.1.fc.weight"));
    // Input file holding x only.
    const ref = readSafetensors(path.join(FIX, `${c.name}.safetensors`)).tensors;
    const input = path.join(dir, "x.safetensors");
    saveSafetensorsSync(input, new Map([["images", ref.get("x")!]]));
    const outFile = path.join(dir, "y.json");
    const inferArgs = [
      "--arch",
      c.arch,
      "--split",
      String(c.split),
      "--dataset",
      c.dataset,
      "--weights",
      st,
      "--input",
      input,
      "--output",
      outFile,
      ...Object.entries(c.extra).flatMap(([k, v]) => ["--extra", `${k}=${v}`]),
    ];
    assert.equal(await runInfer(inferArgs, q.out), 0, q.lines.join("\n"));
    const doc = JSON.parse(fs.readFileSync(outFile, "utf8"));
    assert.equal(doc.members.length, c.split);
    for (let i = 0; i < c.split; i++) {
      const want = recordToTensor(ref.get(`logits.${i}`)!);
      assertLogitsClose(doc.members[i].flat(), want.toArray(), `member ${i}`);
      want.dispose();
    }
    const ens = recordToTensor(ref.get("ensemble")!);
    assertLogitsClose(doc.ensemble.flat(), ens.toArray(), "ensemble");
    ens.dispose();
    assert.equal(doc.predictions.length, 2);
    // The .pth works directly as --weights too.
    assert.equal(
      await runInfer(
        inferArgs.map((a) => (a === st ? path.join(FIX, `${c.name}.pth`) : a)),
        q.out,
      ),
      0,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("bad checkpoints are refused with a clear message and nothing is loaded", async () => {
  const c = CONFIGS[0];
  const w = readWeights(path.join(FIX, `${c.name}.pth`));
  const members = create(c.arch, { split: c.split, dataset: c.dataset, extra: c.extra });
  const before = members.stateDict().get("models.0.layer0.0.weight")!.toArray();
  const unchanged = () =>
    assert.deepEqual(members.stateDict().get("models.0.layer0.0.weight")!.toArray(), before);
  try {
    // Wrong number of classes (cifar100 model, cifar10 checkpoint).
    const c100 = create(c.arch, { split: c.split, dataset: "cifar100", extra: c.extra });
    assert.throws(
      () => loadMembers(c100, w.tensors, "ckpt"),
      /classifier models\.0\.fc\.weight has 10 outputs .* 100 classes .*--num-classes 10/,
    );
    c100.dispose();
    // Wrong S.
    const s4 = create(c.arch, { split: 4, dataset: c.dataset, extra: c.extra });
    assert.throws(
      () => loadMembers(s4, w.tensors, "ckpt"),
      /holds 2 member network\(s\).*--split 2/,
    );
    s4.dispose();
    // A missing key and a mis-shaped key: listed by name.
    const missing = new Map(w.tensors);
    missing.delete("models.1.layer2.0.bn1.running_var");
    assert.throws(
      () => loadMembers(members, missing, "ckpt"),
      /missing keys \(1\): models\.1\.layer2\.0\.bn1\.running_var/,
    );
    unchanged();
    const bad = new Map(w.tensors);
    const rec = bad.get("models.1.fc.weight")!;
    bad.set("models.1.fc.weight", {
      dtype: rec.dtype,
      shape: [rec.shape[1], rec.shape[0]],
      data: rec.data,
    } as TensorRecord);
    assert.throws(
      () => loadMembers(members, bad, "ckpt"),
      /models\.1\.fc\.weight: expected shape \[10,64\], got \[64,10\]/,
    );
    unchanged();
  } finally {
    members.dispose();
  }
  // Not a PyTorch checkpoint; unknown architecture; unknown flag.
  const dir = tmpdir();
  try {
    const junk = path.join(dir, "junk.pth");
    fs.writeFileSync(junk, "this is not a checkpoint at all");
    const q = quiet();
    assert.equal(
      await runImport(["--from", junk, "--to", path.join(dir, "o.safetensors")], q.out),
      1,
    );
    assert.match(q.lines.at(-1)!, /junk\.pth: .*(not|PyTorch|pickle|zip)/i);
    assert.ok(!fs.existsSync(path.join(dir, "o.safetensors")));
    assert.equal(
      await runInfer(
        [
          "--arch",
          "resnet30",
          "--split",
          "2",
          "--dataset",
          "cifar10",
          "--weights",
          junk,
          "--input",
          junk,
          "--output",
          "o.json",
        ],
        q.out,
      ),
      2,
    );
    assert.match(q.lines.at(-1)!, /unknown architecture "resnet30"; did you mean .*resnet29/);
    assert.equal(await runImport(["--frm", junk], q.out), 2);
    assert.match(q.lines.at(-1)!, /--frm/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
