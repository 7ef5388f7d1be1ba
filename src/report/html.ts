// The report page: one self-contained index.html — styles inline, every chart inline as SVG, no
// scripts and nothing fetched — so it opens offline, from a mail attachment or a CI artifact.
// Tables give what the charts do not: each run's configuration and results, and the seed groups.
import { humanCount } from "./accounting.js";
import type { ChartSpec } from "./charts.js";
import type { ReportData, RunEntry, SeedGroup } from "./report_data.js";
import { inlineSvg } from "./render.js";

export interface RenderedChart {
  chart: ChartSpec;
  svg: string;
}

const STYLE = `
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1b1b1b; margin: 0 auto;
  max-width: 1180px; padding: 16px 24px 48px; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 2em; }
h3 { font-size: 1.1em; margin-top: 1.6em; }
.lead { color: #555; margin-top: 0; }
nav ul { padding-left: 1.2em; columns: 2; }
figure.chart { margin: 1em 0 2em; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 0.9em; margin-top: 4px; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0 1em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv { width: 100%; }
table.kv th { width: 17em; }
code { font-size: 0.95em; }
ul.notes li { color: #6b4b00; }
`;

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
export const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ESC[c]);

const pct = (v: number | null | undefined) =>
  v !== null && v !== undefined && Number.isFinite(v) ? `${v.toFixed(2)}%` : "–";

function figure({ chart, svg }: RenderedChart): string {
  return `<figure class="chart" id="${esc(chart.id)}" data-chart="${esc(chart.id)}">
${inlineSvg(svg.replace(/^<\?xml[^>]*>\s*/, ""), chart.id)}
<figcaption>${esc(chart.caption)} Files: <a href="charts/${esc(chart.id)}.svg">SVG</a>, <a href="charts/${esc(chart.id)}.png">PNG</a>.</figcaption>
</figure>`;
}

function countsCell(r: { counts: RunEntry["counts"]; split: number }): [string, string] {
  const c = r.counts;
  if (!c) return ["–", "–"];
  const per = (vs: number[]) =>
    r.split > 1
      ? ` (${r.split} × ${humanCount(vs[0])}${vs.every((v) => v === vs[0]) ? "" : " …"})`
      : "";
  return [
    `${humanCount(c.params)}${per(c.memberParams)}`,
    `${humanCount(c.macs)}${per(c.memberMacs)}`,
  ];
}

function runTable(r: RunEntry): string {
  const [params, macs] = countsCell(r);
  const rows: [string, string][] = [
    ["directory", `<code>${esc(r.dir)}</code>`],
    ["model", esc(`${r.arch}, S=${r.split}, ${r.dataset}, seed ${r.seed}`)],
    ["epochs", esc(`${r.epochsDone} of ${r.epochs}${r.finished ? "" : " (unfinished)"}`)],
    ["recipe", esc(r.recipe || "–")],
    [
      "final ensemble top-1 / top-5",
      r.last ? esc(`${pct(r.last.top1)} / ${pct(r.last.top5)} (epoch ${r.last.epoch})`) : "–",
    ],
    [
      "best ensemble top-1 / top-5",
      r.best
        ? esc(`${pct(r.best.top1)} at epoch ${r.best.epoch} / best top-5 ${pct(r.bestTop5)}`)
        : "–",
    ],
    [
      "members' final top-1",
      r.split > 1 && r.last ? esc(r.last.memberTop1.map(pct).join(", ")) : "–",
    ],
    ["params (total)", esc(params)],
    ["MACs per image (total)", esc(macs)],
    [
      "time per epoch (mean)",
      r.secondsPerEpoch !== null ? esc(`${r.secondsPerEpoch.toFixed(1)} s`) : "–",
    ],
    [
      "training images/s (mean)",
      r.imagesPerSecond !== null ? esc(r.imagesPerSecond.toFixed(1)) : "–",
    ],
    ...Object.entries(r.extra)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([label, e]): [string, string] => [
        `final top-1 on ${esc(label)}`,
        esc(
          `${pct(e.top1)}${e.memberTop1.length > 1 ? ` (members ${e.memberTop1.map(pct).join(", ")})` : ""}`,
        ),
      ]),
  ];
  return `<table class="kv run" data-run="${esc(r.id)}">
${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("\n")}
</table>`;
}

function seedTable(groups: readonly SeedGroup[]): string {
  const head = ["series", "S", "seeds", "final ensemble top-1: mean (min–max)", "params", "MACs"];
  const rows = groups.map((g) => {
    const [params, macs] = countsCell(g);
    return [
      esc(g.series),
      String(g.split),
      esc(g.seeds.join(", ")),
      esc(
        g.seeds.length > 1
          ? `${pct(g.top1.mean)} (${pct(g.top1.min)} – ${pct(g.top1.max)})`
          : pct(g.top1.mean),
      ),
      esc(params),
      esc(macs),
    ];
  });
  return `<table class="seeds">
<tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr>
${rows.map((r) => `<tr>${r.map((c, i) => `<td${i === 1 || i === 3 ? ' class="num"' : ""}>${c}</td>`).join("")}</tr>`).join("\n")}
</table>`;
}

/** The whole page. `charts` are the rendered charts of `data` (reportCharts order). */
export function reportHtml(data: ReportData, charts: readonly RenderedChart[]): string {
  const byId = new Map(charts.map((c) => [c.chart.id, c]));
  const tradeoffs = charts.filter((c) => c.chart.id.startsWith("tradeoff-"));
  const seeds = byId.get("seeds-top1");
  const parts: string[] = [];
  parts.push(`<header>
<h1>divco report</h1>
<p class="lead">${data.runs.length} run${data.runs.length === 1 ? "" : "s"}: ${data.runs.map((r) => `<code>${esc(r.name)}</code>`).join(", ")}. Accuracies are test-set top-1 (%); params and MACs follow the paper's conventions (trainable parameters, multiply-accumulates of one image, summed over the S members).</p>
</header>`);
  parts.push(`<nav><ul>
${tradeoffs.length ? '<li><a href="#trade-offs">Trade-offs</a></li>' : ""}
${data.groups.length ? '<li><a href="#seeds">Over seeds</a></li>' : ""}
${data.runs.map((r) => `<li><a href="#run-${esc(r.id)}">${esc(r.name)}</a></li>`).join("\n")}
${data.notes.length ? '<li><a href="#notes">Notes</a></li>' : ""}
</ul></nav>`);
  if (tradeoffs.length) {
    const latency = byId.has("tradeoff-latency");
    parts.push(`<section id="trade-offs">
<h2>Trade-offs: accuracy against size, compute${latency ? " and latency" : ""}</h2>
${latency ? "" : '<p class="lead">No latency chart: give latency measurements with <code>--latency FILE</code> (the JSON of <code>divco bench latency</code>).</p>'}
${tradeoffs.map(figure).join("\n")}
</section>`);
  }
  if (data.groups.length)
    parts.push(`<section id="seeds">
<h2>Final accuracy over seeds</h2>
${seedTable(data.groups)}
${seeds ? figure(seeds) : ""}
</section>`);
  parts.push(`<section id="runs">
<h2>Runs</h2>
${data.runs
  .map((r) => {
    const c = byId.get(`curves-${r.id}`);
    return `<article id="run-${esc(r.id)}">
<h3>${esc(r.name)}</h3>
${runTable(r)}
${c ? figure(c) : "<p>No epoch logged yet.</p>"}
</article>`;
  })
  .join("\n")}
</section>`);
  if (data.notes.length)
    parts.push(`<section id="notes">
<h2>Notes</h2>
<ul class="notes">
${data.notes.map((n) => `<li>${esc(n)}</li>`).join("\n")}
</ul>
</section>`);
  parts.push(
    `<footer><p class="lead">Made by <code>divco report</code>: charts are vega-lite specifications rendered to SVG by vega on the server, PNGs by resvg; the data behind every chart is in <a href="report.json">report.json</a>.</p></footer>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>divco report</title>
<style>${STYLE}</style>
</head>
<body>
${parts.join("\n")}
</body>
</html>
`;
}
