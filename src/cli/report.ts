// `divco report`: per-epoch Markdown tables of run directories and a final-epoch summary over
// seeds (docs/results.md is generated with it). Exit codes: 0 ok, 1 unreadable run, 2 usage error.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { defineCommand, runCommand, stdio, UsageError, type Out } from "./args.js";
import { finalTable, readRun, runTable } from "../report/run_report.js";

export const REPORT = defineCommand({
  name: "report",
  summary: "per-epoch result tables of run directories, and final accuracy over seeds",
  usage: ["RUN_DIR ... [--json]", "--run DIR [--run DIR ...] | --under DIR [--json]"],
  description: `Prints each run's per-epoch results as a Markdown table (ensemble top-1/top-5, every member's
top-1, seconds and training images/s per epoch) and, for finished runs, the final-epoch ensemble
top-1 per architecture and S over seeds. Extra evaluations saved in a run directory as
eval-<label>-epoch-NNNN.json (the output of divco eval --json) become extra columns.`,
  positionals: [{ name: "RUN_DIR", variadic: true, description: "run directories (as --run)" }],
  flags: {
    run: { type: "string", value: "DIR", multiple: true, description: "a run directory" },
    under: { type: "string", value: "DIR", description: "every run directory directly under DIR" },
    json: { type: "boolean", description: "the same data as JSON" },
  },
  notes: "Exit codes: 0 ok, 1 unreadable run directory, 2 usage error.",
});

export async function runReport(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(REPORT, argv, out, ({ values, positionals }) => {
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
    let runs;
    try {
      runs = dirs.map(readRun);
    } catch (e) {
      out.err(`divco report: ${(e as Error).message}`);
      return 1;
    }
    if (values.json) {
      out.log(JSON.stringify(runs, null, 2));
      return 0;
    }
    out.log(runs.map(runTable).join("\n\n"));
    out.log("\n" + finalTable(runs));
    return 0;
  });
}
