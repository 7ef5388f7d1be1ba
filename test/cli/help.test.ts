// Every subcommand, one parametrised test: `--help` exits 0 and lists each flag of its spec with
// its description and default (the help is generated from the spec that is parsed), the usage
// lines name only declared flags, and an unknown flag exits 2 with the one-line usage error.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defaultLabel,
  usageForms,
  type CommandSpec,
  type FlagSpec,
  type Out,
} from "../../src/cli/args.js";
import { COMMAND_NAMES } from "../../src/cli/main.js";
import { DATA, runData } from "../../src/cli/data.js";
import { DEMO, runDemo } from "../../src/cli/demo.js";
import { EVAL, runEval } from "../../src/cli/eval.js";
import { EXPORT, runExport } from "../../src/cli/export.js";
import { IMPORT, runImport } from "../../src/cli/import.js";
import { INFER, runInfer } from "../../src/cli/infer.js";
import { INFO, runInfo } from "../../src/cli/info.js";
import { LAUNCH, runLaunch } from "../../src/cli/launch.js";
import { PREDICT, runPredict } from "../../src/cli/predict.js";
import { BENCH, runBench } from "../../src/cli/bench.js";
import { REPORT, runReport } from "../../src/cli/report.js";
import { SERVE, runServe } from "../../src/cli/serve.js";
import { SUMMARY, runSummary } from "../../src/cli/summary.js";
import { TRAIN, runTrain } from "../../src/cli/train.js";
import { runCaptured } from "./helpers.js";

type Run = (argv: string[], out: Out) => Promise<number>;
const COMMANDS: [CommandSpec, Run][] = [
  [DATA, runData],
  [DEMO, runDemo],
  [EVAL, runEval],
  [EXPORT, runExport],
  [IMPORT, runImport],
  [INFER, runInfer],
  [INFO, runInfo],
  [LAUNCH, runLaunch],
  [PREDICT, runPredict],
  [BENCH, runBench],
  [REPORT, runReport],
  [SERVE, runServe],
  [SUMMARY, runSummary],
  [TRAIN, runTrain],
];

const squash = (s: string) => s.replace(/\s+/g, " ");

test("every subcommand of divco is covered here", () => {
  assert.deepEqual(COMMANDS.map(([s]) => s.name).sort(), [...COMMAND_NAMES].sort());
});

for (const [spec, run] of COMMANDS) {
  test(`divco ${spec.name} --help lists every flag with its description and default`, async () => {
    for (const argv of [["--help"], ["-h"]]) {
      const r = await runCaptured(run, argv);
      assert.equal(r.code, 0);
      assert.equal(r.stderr, "");
      const lines = r.stdout.split("\n");
      assert.ok(
        lines.some((l) => l.startsWith(`Usage: divco ${spec.name}`)),
        r.stdout,
      );
      for (const [name, f] of Object.entries(spec.flags as Record<string, FlagSpec>)) {
        assert.ok(
          f.description.trim().length > 0 && !f.description.includes("\n"),
          `--${name}: one-line description`,
        );
        const label =
          f.type === "boolean"
            ? f.negatable
              ? `--[no-]${name}`
              : `--${name}`
            : `--${name} ${f.value}`;
        const row = lines.find((l) =>
          l
            .trimStart()
            .replace(/^-\w, /, "")
            .startsWith(label + " "),
        );
        assert.ok(row, `--${name} is listed in\n${r.stdout}`);
        const def = defaultLabel(f);
        if (def)
          assert.ok(row.includes(` ${def} `), `--${name} shows its default "${def}": ${row}`);
        assert.ok(
          squash(r.stdout).includes(squash(f.description)),
          `--${name} shows its description`,
        );
      }
    }
  });

  test(`divco ${spec.name}: the usage lines name only declared flags`, () => {
    for (const form of usageForms(spec)) {
      for (const [, flag] of form.matchAll(/--([a-z][a-z0-9-]*)/g)) {
        assert.ok(
          flag in spec.flags || flag === "help",
          `"${form}" names --${flag}, which divco ${spec.name} does not declare`,
        );
      }
    }
  });

  test(`divco ${spec.name} --no-such-flag exits 2 with one usage line`, async () => {
    const r = await runCaptured(run, ["--no-such-flag"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `divco ${spec.name}: unknown flag --no-such-flag (see divco ${spec.name} --help)`,
    );
  });
}
