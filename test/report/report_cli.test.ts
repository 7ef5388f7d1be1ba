// `divco report` from the command line: the HTML directory (index.html, report.json, every chart
// as SVG and PNG), --format json, and bad input — flags that do not go together, unreadable
// latency files — as usage errors (exit 2) or failures (exit 1) naming the problem.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runReport } from "../../src/cli/report.js";
import { fixture, fixtureRuns, tmpDir } from "./helpers.js";

async function run(argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runReport(argv, { log: (s) => stdout.push(s), err: (s) => stderr.push(s) });
  return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
}

test("the HTML report: index.html, report.json and each chart as SVG and PNG; rewriting replaces charts", async () => {
  const out = join(tmpDir(), "report");
  const latency = fixture("latency_sample.json");
  const r = await run(["--under", fixture("sample_runs"), "--out", out, "--latency", latency]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^divco report: 5 runs, 9 charts/);
  assert.match(r.stdout, /note: latency of wide_resnet16_8 S=1 on cifar100 has no finished run/);
  assert.match(r.stdout, new RegExp(`open ${join(out, "index.html")}$`));
  const charts = readdirSync(join(out, "charts")).sort();
  const ids = [
    "curves-resnet29-S1-seed0",
    "curves-resnet29-S1-seed1",
    "curves-resnet29-S2-seed0",
    "curves-resnet29-S2-seed1",
    "curves-resnet29-S4-seed0",
    "seeds-top1",
    "tradeoff-latency",
    "tradeoff-macs",
    "tradeoff-params",
  ];
  assert.deepEqual(
    charts,
    ids.flatMap((id) => [`${id}.png`, `${id}.svg`]),
  );
  const html = readFileSync(join(out, "index.html"), "utf8");
  assert.doesNotMatch(html, /<script|<link|src="http|@import/, "self-contained, no scripts");
  for (const id of ids) assert.match(html, new RegExp(`<figure class="chart" id="${id}"`));
  // Params/MACs are counted on the models themselves (docs/results.md: 313.11K / 47.11M at S=1,
  // 2 × 177.62K / 2 × 26.58M at S=2).
  const data = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
  assert.deepEqual(
    data.runs.map((x: { counts: { params: number; macs: number } }) => [
      x.counts.params,
      x.counts.macs,
    ]),
    [
      [313114, 47106560],
      [313114, 47106560],
      [355244, 53161728],
      [355244, 53161728],
      [321096, 47551488],
    ],
  );
  // --format json prints the same data.
  const j = await run([
    "--under",
    fixture("sample_runs"),
    "--format",
    "json",
    "--latency",
    latency,
  ]);
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(JSON.parse(j.stdout), data);

  // Again with two runs: the charts of the others (and the seed chart) go, other files stay.
  writeFileSync(join(out, "charts", "notes.txt"), "mine");
  const [s1, , s2] = fixtureRuns("sample_runs");
  const again = await run([s1, s2, "--out", out]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readdirSync(join(out, "charts")).sort(), [
    "curves-resnet29-S1-seed0.png",
    "curves-resnet29-S1-seed0.svg",
    "curves-resnet29-S2-seed0.png",
    "curves-resnet29-S2-seed0.svg",
    "notes.txt",
    "tradeoff-macs.png",
    "tradeoff-macs.svg",
    "tradeoff-params.png",
    "tradeoff-params.svg",
  ]);
});

test("bad flags and unreadable latency files: exit 2 or 1, naming the problem", async () => {
  const runs = fixture("sample_runs");
  const usage: [string[], RegExp][] = [
    [["--under", runs, "--format", "pdf"], /--format must be html, md or json, got "pdf"/],
    [["--under", runs, "--format", "md", "--out", "x"], /--out applies to the HTML report only/],
    [
      ["--under", runs, "--format", "json", "--screenshot", "x.png"],
      /--screenshot applies to the HTML report only/,
    ],
    [
      ["--under", runs, "--format", "md", "--latency", "x.json"],
      /--latency applies to the HTML and JSON reports only/,
    ],
    [["--under", runs, "--latency-batch", "0"], /--latency-batch/],
    [
      ["--under", runs, "--json", "--format", "md"],
      /--json is the runs as read; give it or --format, not both/,
    ],
  ];
  for (const [argv, re] of usage) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.stderr, re);
    assert.match(r.stderr, /\(see divco report --help\)$/);
  }
  const bad = join(tmpDir(), "latency.json");
  writeFileSync(bad, '{"results": {}}');
  const out = join(tmpDir(), "never");
  const r = await run(["--under", runs, "--out", out, "--latency", bad]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `divco report: --latency ${bad}: no "results" array (expected the JSON that divco bench latency writes)`,
  );
  assert.equal(existsSync(out), false, "nothing written");
});

test("--screenshot without a browser: the report is written, the screenshot fails with exit 1", async () => {
  const out = join(tmpDir(), "report");
  const saved = process.env.CHROMIUM;
  process.env.CHROMIUM = "/nonexistent/chromium";
  try {
    const [s1] = fixtureRuns("demo_runs");
    const r = await run([s1, "--out", out, "--screenshot", join(out, "page.png")]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "divco report: --screenshot: CHROMIUM=/nonexistent/chromium does not exist",
    );
    assert.ok(existsSync(join(out, "index.html")));
    assert.equal(existsSync(join(out, "page.png")), false);
  } finally {
    if (saved === undefined) delete process.env.CHROMIUM;
    else process.env.CHROMIUM = saved;
  }
});
