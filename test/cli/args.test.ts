// The argument parser every subcommand uses: flags and their forms, defaults, required flags,
// negatable booleans, positionals, the errors (each one line naming what is wrong, exit 2) and
// the generated help.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  defineCommand,
  formatHelp,
  intFlag,
  parseArgv,
  runCommand,
  UsageError,
} from "../../src/cli/args.js";
import { capture } from "./helpers.js";

const SPEC = defineCommand({
  name: "toy",
  summary: "a command for the parser's tests",
  description: "Does nothing.",
  positionals: [
    { name: "MODE", noun: "mode", required: true, choices: ["a", "b"], description: "the mode" },
    { name: "FILE", variadic: true, description: "input files" },
  ],
  flags: {
    name: {
      type: "string",
      value: "NAME",
      short: "n",
      required: true,
      description: "a required string",
    },
    size: { type: "string", value: "N", default: "3", description: "a string with a default" },
    tag: { type: "string", value: "T", multiple: true, description: "a repeatable string" },
    verbose: { type: "boolean", short: "v", description: "a plain boolean" },
    color: {
      type: "boolean",
      negatable: true,
      defaultText: "true",
      description: "a negatable boolean",
    },
  },
});

const parse = (...argv: string[]) => parseArgv(SPEC, argv);

test("flags in every form, defaults, repeatable values, positionals", () => {
  assert.deepEqual(parse("a", "--name", "x", "f1", "-v", "--tag=t1", "--tag", "t2", "f2"), {
    values: { name: "x", size: "3", tag: ["t1", "t2"], verbose: true }, // color: neither --color nor --no-color
    positionals: ["a", "f1", "f2"],
  });
  const p = parse("b", "-n", "y", "--size=7", "--no-color", "--", "--not-a-flag", "-v");
  assert.notEqual(p, "help");
  if (p === "help") return;
  assert.deepEqual(p.values, { name: "y", size: "7", tag: [], verbose: false, color: false });
  assert.deepEqual(p.positionals, ["b", "--not-a-flag", "-v"]);
  // A negative number is a value, and the last of a repeated single flag wins.
  const q = parse("a", "--name", "-1", "--size", "1", "--size", "2");
  assert.ok(q !== "help" && q.values.name === "-1" && q.values.size === "2");
});

test("--help and -h answer before required flags and positionals are checked", () => {
  assert.equal(parse("--help"), "help");
  assert.equal(parse("zzz", "-h"), "help");
});

test("usage errors name what is wrong", () => {
  const cases: [string[], string][] = [
    [["a", "--name", "x", "--bogus"], "unknown flag --bogus"],
    [["a", "--name", "x", "--constructor"], "unknown flag --constructor"],
    [["a", "--name", "x", "-q"], "unknown flag -q"],
    [["a", "--name"], "--name needs a value (NAME)"],
    [["a", "--name", "--size", "2"], "--name needs a value (NAME)"],
    [["a", "--name", "x", "--verbose=yes"], "--verbose takes no value"],
    [["a", "--name", "x", "--no-verbose"], "unknown flag --no-verbose"],
    [["a", "--name", "x", "--color", "--no-color"], "--color and --no-color contradict each other"],
    [["a"], "missing --name"],
    [["--name", "x"], "missing mode (a, b)"],
    [["c", "--name", "x"], 'unknown mode "c" (a, b)'],
  ];
  for (const [argv, msg] of cases)
    assert.throws(
      () => parse(...argv),
      (e: Error) => e instanceof UsageError && e.message === msg,
      argv.join(" "),
    );
  const fixed = defineCommand({
    name: "two",
    summary: "s",
    positionals: [{ name: "X", description: "x" }],
    flags: {},
  });
  assert.throws(() => parseArgv(fixed, ["1", "2", "3"]), /^UsageError: unexpected arguments: 2 3$/);
});

test("runCommand: exit 0 after help, 2 with one usage line for parse errors and UsageErrors the body throws", async () => {
  const run = (argv: string[], body: () => number = () => 0) => {
    const c = capture();
    return runCommand(SPEC, argv, c.out, body).then((code) => ({ code, ...c }));
  };
  const help = await run(["-h"]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout.join("\n") + "\n", formatHelp(SPEC));
  const bad = await run(["a", "--nme", "x"]);
  assert.equal(bad.code, 2);
  assert.deepEqual(bad.stderr, ["divco toy: unknown flag --nme (see divco toy --help)"]);
  const thrown = await run(["a", "--name", "x"], () => {
    throw new UsageError("--name x is taken");
  });
  assert.deepEqual(
    [thrown.code, thrown.stderr],
    [2, ["divco toy: --name x is taken (see divco toy --help)"]],
  );
  // Only the error classes a command declares are usage errors; others propagate.
  class Custom extends Error {}
  const c = capture();
  assert.equal(
    await runCommand(
      SPEC,
      ["a", "-n", "x"],
      c.out,
      () => {
        throw new Custom("bad arch");
      },
      { usageErrors: [Custom] },
    ),
    2,
  );
  await assert.rejects(
    runCommand(SPEC, ["a", "-n", "x"], c.out, () => {
      throw new RangeError("bug");
    }),
    RangeError,
  );
});

test("the help lists usage, arguments and every flag with its default in aligned columns", () => {
  const help = formatHelp(SPEC);
  const lines = help.split("\n");
  assert.equal(lines[0], "divco toy — a command for the parser's tests");
  assert.ok(lines.includes("Usage: divco toy --name NAME MODE [FILE ...] [options]"), help);
  assert.ok(lines.includes("  MODE  the mode (a, b)"), help);
  const rows = [
    "-n, --name NAME",
    "--size N",
    "--tag T",
    "-v, --verbose",
    "--[no-]color",
    "-h, --help",
  ].map((label) => {
    const row = lines.find((l) => l.startsWith(`  ${label} `));
    assert.ok(row, `${label} in\n${help}`);
    return row;
  });
  const column = (text: string) => rows.map((r) => r.indexOf(text));
  const descStart = column("a ").find((i) => i > 0)!;
  assert.deepEqual(
    rows.map((r, i) =>
      r.indexOf(
        ["a required", "a string with", "a repeatable", "a plain", "a negatable", "this text"][i],
      ),
    ),
    rows.map(() => descStart),
    "descriptions start in one column",
  );
  const header = lines.find((l) => l.startsWith("Options:"))!;
  assert.equal(rows[0].indexOf("required"), header.indexOf("default"));
  assert.equal(rows[1].indexOf("3 "), header.indexOf("default"));
  assert.match(rows[2], /a repeatable string \(repeatable\)$/);
  assert.match(rows[4], /--\[no-\]color +true +a negatable boolean$/);
});

test("long descriptions wrap under their column", () => {
  const long = defineCommand({
    name: "long",
    summary: "s",
    flags: {
      x: {
        type: "boolean",
        description: Array.from({ length: 40 }, (_, i) => `word${i}`).join(" "),
      },
    },
  });
  const lines = formatHelp(long)
    .split("\n")
    .filter((l) => l.includes("word"));
  assert.ok(lines.length > 1);
  assert.ok(lines.every((l) => l.length <= 100));
  const col = lines[0].indexOf("word0");
  assert.ok(lines.slice(1).every((l) => l.search(/\S/) === col));
});

test("intFlag: integers at or above the minimum, else a usage error naming the flag", () => {
  assert.equal(intFlag("split", "4"), 4);
  assert.equal(intFlag("threads", "0", 0), 0);
  assert.throws(
    () => intFlag("split", "two"),
    /^UsageError: --split takes a positive integer, got "two"$/,
  );
  assert.throws(() => intFlag("split", "0"), /positive integer/);
  assert.throws(
    () => intFlag("limit", "-1", 0),
    /^UsageError: --limit takes an integer ≥ 0, got "-1"$/,
  );
  assert.throws(() => intFlag("split", ""), /got ""/);
});

test("a spec declaring --help or the same alias twice is refused", () => {
  assert.throws(
    () =>
      defineCommand({
        name: "x",
        summary: "s",
        flags: { help: { type: "boolean", description: "d" } },
      }),
    /--help is added/,
  );
  assert.throws(
    () =>
      defineCommand({
        name: "x",
        summary: "s",
        flags: { a: { type: "boolean", short: "h", description: "d" } },
      }),
    /-h is used twice/,
  );
});
