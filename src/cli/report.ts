// `divco report`: per-epoch Markdown tables of run directories and a final-epoch summary over
// seeds (docs/results.md is generated with it).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseCommand, stdio, type Out } from "./args.js";
import { finalTable, readRun, runTable } from "../report/run_report.js";

const HELP = `Usage: divco report --run DIR [--run DIR ...] | --under DIR [--json]

Prints each run's per-epoch results as a Markdown table (ensemble top-1/top-5, every member's
top-1, seconds and training images/s per epoch) and, for finished runs, the final-epoch ensemble
top-1 per architecture and S over seeds. Extra evaluations saved in a run directory as
eval-<label>-epoch-NNNN.json (the output of divco eval --json) become extra columns.

Options:
  --run DIR        a run directory (repeatable)
  --under DIR      every run directory directly under DIR
  --json           the same data as JSON
`;

export async function runReport(argv: string[], out: Out = stdio): Promise<number> {
  const parsed = parseCommand("report", argv, { run: { type: "string", multiple: true }, under: { type: "string" }, json: { type: "boolean" } }, HELP, out);
  if (typeof parsed === "number") return parsed;
  const { values, usage } = parsed;
  const dirs = [...(values.run ?? [])];
  if (values.under) {
    if (!existsSync(values.under)) return usage(`--under ${values.under} does not exist`);
    for (const d of readdirSync(values.under).sort()) {
      const p = join(values.under, d);
      if (statSync(p).isDirectory() && existsSync(join(p, "config.json"))) dirs.push(p);
    }
  }
  if (dirs.length === 0) return usage("give --run DIR or --under DIR (with run directories in it)");
  const runs = dirs.map(readRun);
  if (values.json) {
    out.log(JSON.stringify(runs, null, 2));
    return 0;
  }
  out.log(runs.map(runTable).join("\n\n"));
  out.log("\n" + finalTable(runs));
  return 0;
}
