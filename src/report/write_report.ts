// Writes an HTML report directory: index.html (self-contained), report.json (the data behind
// every chart), and charts/<id>.svg + charts/<id>.png for each chart. Rewriting a report
// directory replaces its charts: SVG/PNG files under charts/ that the new report does not have
// (a run no longer included) are removed, nothing else is touched.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "../io/atomic.js";
import { reportCharts } from "./charts.js";
import { reportHtml, type RenderedChart } from "./html.js";
import type { ReportData } from "./report_data.js";
import { renderPng, renderSvg } from "./render.js";

export interface WrittenReport {
  index: string;
  data: string;
  /** Paths of the SVG and PNG files, chart by chart. */
  charts: { id: string; svg: string; png: string }[];
  /** What vega-lite/vega warned about while rendering, prefixed with the chart id. */
  warnings: string[];
}

export async function writeHtmlReport(data: ReportData, outDir: string): Promise<WrittenReport> {
  const chartDir = join(outDir, "charts");
  try {
    mkdirSync(chartDir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create the report directory ${outDir}: ${(e as Error).message}`);
  }
  const rendered: RenderedChart[] = [];
  const files: WrittenReport["charts"] = [];
  const warnings: string[] = [];
  for (const chart of reportCharts(data)) {
    const chartWarnings: string[] = [];
    const svg = await renderSvg(chart.spec, chartWarnings);
    warnings.push(...chartWarnings.map((w) => `${chart.id}: ${w}`));
    rendered.push({ chart, svg });
    const f = {
      id: chart.id,
      svg: join(chartDir, `${chart.id}.svg`),
      png: join(chartDir, `${chart.id}.png`),
    };
    writeFileAtomicSync(f.svg, Buffer.from(svg));
    writeFileAtomicSync(f.png, renderPng(svg));
    files.push(f);
  }
  const keep = new Set(files.flatMap((f) => [`${f.id}.svg`, `${f.id}.png`]));
  for (const name of readdirSync(chartDir))
    if (/\.(svg|png)$/.test(name) && !keep.has(name)) rmSync(join(chartDir, name));
  const dataPath = join(outDir, "report.json");
  writeFileAtomicSync(dataPath, Buffer.from(JSON.stringify(data, null, 2) + "\n"));
  const index = join(outDir, "index.html");
  writeFileAtomicSync(index, Buffer.from(reportHtml(data, rendered)));
  return { index, data: dataPath, charts: files, warnings };
}
