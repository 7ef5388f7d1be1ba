// `divco report`: an HTML page of run directories — training curves per run, final accuracy
// against params, MACs and measured latency, accuracy over seeds — with every chart also as SVG
// and PNG (the default), the Markdown tables docs/results.md is generated with (--format md), or
// the data behind every chart as JSON (--format json).
// Exit codes: 0 ok, 1 unreadable run or latency file, 2 usage error.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { defineCommand, intFlag, runCommand, stdio, UsageError, type Out } from "./args.js";
import { finalTable, readRun, runTable, type RunSummary } from "../report/run_report.js";
import { readLatencyFile, type LatencyEntry } from "../report/latency_file.js";
import type { ModelCounts, ReportData } from "../report/report_data.js";

const FORMATS = ["html", "md", "json"] as const;

export const REPORT = defineCommand({
  name: "report",
  summary: "HTML report of run directories: training curves, accuracy vs params/MACs/latency",
  usage: [
    "RUN_DIR ... | --run DIR ... | --under DIR [--out DIR] [--latency FILE ...]",
    " [--latency-batch N] [--screenshot FILE]",
    "RUN_DIR ... | --under DIR --format md|json",
  ],
  description: `Writes OUT/index.html — one self-contained page (no scripts, nothing fetched) with each run's
training curves (ensemble and member top-1, loss, learning rate, co-training weight) and a table of
its configuration and results; final ensemble top-1 against total params, total MACs and measured
latency (--latency), one series per architecture with S = 1, 2, 4 connected, the paper's reported
points beside them where arch and dataset match; and mean with min–max over runs that differ only
by seed. Every chart is also written as OUT/charts/<chart>.svg and .png, the data behind them as
OUT/report.json. --format md prints the per-epoch Markdown tables and the final top-1 over seeds
(docs/results.md is made with it); --format json prints the report's data. Extra evaluations saved
in a run directory as eval-<label>-epoch-NNNN.json (divco eval --json) become extra columns.`,
  positionals: [{ name: "RUN_DIR", variadic: true, description: "run directories (as --run)" }],
  flags: {
    run: { type: "string", value: "DIR", multiple: true, description: "a run directory" },
    under: { type: "string", value: "DIR", description: "every run directory directly under DIR" },
    format: {
      type: "string",
      value: "F",
      default: "html",
      description: "html (a report directory), md (Markdown tables) or json (the charts' data)",
    },
    out: {
      type: "string",
      value: "DIR",
      defaultText: "report",
      description: "the HTML report's directory (created; its charts are replaced)",
    },
    latency: {
      type: "string",
      value: "FILE",
      multiple: true,
      description: "latency measurements (divco bench latency / npm run bench:infer JSON)",
    },
    "latency-batch": {
      type: "string",
      value: "N",
      default: "1",
      description: "batch size whose latencies are plotted (fastest mode per arch and S)",
    },
    screenshot: {
      type: "string",
      value: "FILE",
      description: "also save a full-page PNG of index.html, taken in headless Chromium",
    },
    json: {
      type: "boolean",
      description: "print the runs as read (per-epoch rows) as JSON, as before --format",
    },
  },
  notes: `--screenshot needs Chromium (apt-get install chromium, or CHROMIUM=/path) and the
playwright-core package (a development dependency of divco).

Exit codes: 0 ok, 1 unreadable run directory or latency file, 2 usage error.`,
});

/** Params/MACs of (arch, S, dataset): the members are built, counted and freed. */
async function modelCounter(): Promise<
  (arch: string, split: number, dataset: string) => ModelCounts
> {
  const { create } = await import("../models/registry.js");
  const { countMembers } = await import("../report/accounting.js");
  await import("../models/index.js");
  return (arch, split, dataset) => {
    const members = create(arch, { split, dataset: dataset as never });
    try {
      const c = countMembers(members, { crop: members.options.crop });
      return {
        params: c.total.params,
        macs: c.total.macs,
        memberParams: c.perMember.map((m) => m.params),
        memberMacs: c.perMember.map((m) => m.macs),
      };
    } finally {
      members.dispose();
    }
  };
}

/** The report's data for runs: params/MACs counted, latency files paired by arch, dataset and S. */
export async function reportData(
  runs: readonly RunSummary[],
  latency: readonly LatencyEntry[] = [],
  latencyBatch = 1,
): Promise<ReportData> {
  const { buildReport } = await import("../report/report_data.js");
  return buildReport(runs, { counts: await modelCounter(), latency, latencyBatch });
}

/** Writes the HTML report of run directories to `outDir`; returns the path of its index.html. */
export async function writeReport(
  dirs: readonly string[],
  outDir: string,
  o: { latency?: readonly LatencyEntry[]; latencyBatch?: number } = {},
): Promise<string> {
  const { writeHtmlReport } = await import("../report/write_report.js");
  const data = await reportData(dirs.map(readRun), o.latency, o.latencyBatch);
  return (await writeHtmlReport(data, outDir)).index;
}

export async function runReport(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(REPORT, argv, out, async ({ values, positionals }) => {
    const format = values.json ? "json-runs" : values.format;
    if (!(FORMATS as readonly string[]).includes(values.format))
      throw new UsageError(`--format must be html, md or json, got "${values.format}"`);
    if (values.json && values.format !== "html")
      throw new UsageError("--json is the runs as read; give it or --format, not both");
    if (format !== "html") {
      for (const f of ["out", "screenshot", "latency-batch"] as const)
        if (argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)))
          throw new UsageError(
            `--${f} applies to the HTML report only (md and json print to stdout)`,
          );
      if (format !== "json" && values.latency.length > 0)
        throw new UsageError("--latency applies to the HTML and JSON reports only");
    }
    const latencyBatch = intFlag("latency-batch", values["latency-batch"]);
    const dirs = [...positionals, ...values.run];
    if (values.under) {
      if (!existsSync(values.under)) throw new UsageError(`--under ${values.under} does not exist`);
      for (const d of readdirSync(values.under).sort()) {
        const p = join(values.under, d);
        if (statSync(p).isDirectory() && existsSync(join(p, "config.json"))) dirs.push(p);
      }
    }
    if (dirs.length === 0)
      throw new UsageError(
        "give --run DIR or --under DIR (with run directories in it), or run directories as arguments",
      );
    let runs: RunSummary[];
    let latency: LatencyEntry[];
    try {
      runs = dirs.map(readRun);
      latency = values.latency.flatMap(readLatencyFile);
    } catch (e) {
      out.err(`divco report: ${(e as Error).message}`);
      return 1;
    }
    if (format === "json-runs") {
      out.log(JSON.stringify(runs, null, 2));
      return 0;
    }
    if (format === "md") {
      out.log(runs.map(runTable).join("\n\n"));
      out.log("\n" + finalTable(runs));
      return 0;
    }
    const data = await reportData(runs, latency, latencyBatch);
    if (format === "json") {
      out.log(JSON.stringify(data, null, 2));
      return 0;
    }
    const { writeHtmlReport } = await import("../report/write_report.js");
    const outDir = values.out ?? "report";
    const written = await writeHtmlReport(data, outDir);
    out.log(
      `divco report: ${runs.length} run${runs.length === 1 ? "" : "s"}, ${written.charts.length} charts (SVG + PNG in ${join(outDir, "charts")})`,
    );
    for (const n of data.notes) out.log(`  note: ${n}`);
    for (const w of written.warnings) out.err(`divco report: chart warning: ${w}`);
    if (values.screenshot) {
      const { screenshotPage } = await import("../report/browser.js");
      try {
        await screenshotPage(written.index, values.screenshot);
      } catch (e) {
        out.err(`divco report: --screenshot: ${(e as Error).message}`);
        return 1;
      }
      out.log(`screenshot: ${values.screenshot}`);
    }
    out.log(`open ${written.index}`);
    return 0;
  });
}
