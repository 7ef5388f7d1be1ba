// The report's charts as vega-lite specifications, built from report_data.ts's data: one figure
// of training curves per run (top-1 of the ensemble and every member, loss, learning rate,
// co-training weight), the trade-off charts (final ensemble top-1 against params, MACs, latency;
// one series per arch with its S values connected and labelled, the paper's points as their own
// dashed series), and ensemble top-1 over seeds. Mark groups carry names (`<name>_marks` in the
// SVG's class list), so a test can count what each chart drew.
import type { TopLevelSpec } from "vega-lite";
import type {
  ReportData,
  RunEntry,
  SeedGroup,
  TradeoffChart,
  TradeoffPoint,
} from "./report_data.js";

export interface ChartSpec {
  /** File name (without extension) and HTML id: "curves-<run>", "tradeoff-params", ... */
  id: string;
  title: string;
  /** One sentence under the chart. */
  caption: string;
  spec: TopLevelSpec;
}

/** The font the charts are set in: DejaVu is what Debian machines have (fonts-dejavu-core). */
export const CHART_FONT = "DejaVu Sans";

// Readable on white and distinguishable in print: Tableau 10 without its grey (kept for paper).
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#9c755f",
];
const ENSEMBLE_COLOR = "#1b1b1b";

const CONFIG = {
  font: CHART_FONT,
  title: { fontSize: 14, anchor: "start", offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", grid: true },
  // labelLimit 0: no truncation (the paper series are named with their table and training length).
  legend: {
    labelFontSize: 11,
    titleFontSize: 12,
    labelLimit: 0,
    symbolStrokeWidth: 2,
  },
  view: { stroke: "#cccccc" },
} as const;

const EPOCH_AXIS = { title: "epoch", tickMinStep: 1, format: "d" } as const;
const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Every chart of a report, in page order: trade-offs, seeds, then each run's curves. */
export function reportCharts(data: ReportData): ChartSpec[] {
  const charts: ChartSpec[] = data.tradeoffs.map(tradeoffSpec);
  const multi = data.groups.filter((g) => g.seeds.length > 1);
  if (multi.length > 0) charts.push(seedsSpec(multi));
  for (const r of data.runs) if (r.curves.accuracy.length > 0) charts.push(curvesSpec(r));
  return charts;
}

// ---------------------------------------------------------------- per-run curves

/** The series of a run's accuracy panel: the ensemble, then member 1..S (S ≥ 2). */
export function accuracySeries(split: number): string[] {
  return [
    "ensemble",
    ...(split > 1 ? Array.from({ length: split }, (_, i) => `member ${i + 1}`) : []),
  ];
}

function linePanel(
  name: string,
  title: string,
  values: object[],
  y: { field: string; title: string; format?: string },
  color?: { domain: string[]; range: string[]; title: string },
) {
  const enc = {
    x: { field: "epoch", type: "quantitative", axis: EPOCH_AXIS, scale: { nice: false } },
    y: {
      field: y.field,
      type: "quantitative",
      title: y.title,
      scale: { zero: false },
      ...(y.format ? { axis: { format: y.format } } : {}),
    },
    ...(color
      ? {
          color: {
            field: "series",
            type: "nominal",
            title: color.title,
            scale: { domain: color.domain, range: color.range },
            legend: { orient: "right" },
          },
          // The ensemble's line is the thick one (a line's width is its series').
          strokeWidth: {
            condition: { test: "datum.series === 'ensemble'", value: 3 },
            value: 1.75,
          },
        }
      : { color: { value: PALETTE[0] } }),
  };
  return {
    title,
    width: 300,
    height: 180,
    data: { values },
    encoding: enc,
    layer: [
      { name: `${name}_line`, mark: { type: "line" } },
      { name: `${name}_point`, mark: { type: "point", filled: true, size: 30 } },
    ],
  };
}

// Panel y titles stay short and the detail goes into panel titles: vega estimates text widths
// (0.8 em per character), and a y title longer than the plot is tall pushes the panel's title up
// and away from it.
export function curvesSpec(r: RunEntry): ChartSpec {
  const members = accuracySeries(r.split);
  const panels: object[] = [
    linePanel(
      "top1",
      r.split > 1 ? "Test top-1: ensemble and members" : "Test top-1",
      r.curves.accuracy,
      { field: "top1", title: "top-1 (%)" },
      {
        domain: members,
        range: members.map((m, i) =>
          m === "ensemble" ? ENSEMBLE_COLOR : PALETTE[(i - 1) % PALETTE.length],
        ),
        title: "",
      },
    ),
  ];
  if (r.curves.loss.length > 0)
    panels.push(
      linePanel(
        "loss",
        "Loss, summed over the members",
        r.curves.loss,
        { field: "loss", title: "loss" },
        { domain: ["training", "test"], range: [PALETTE[0], PALETTE[1]], title: "" },
      ),
    );
  if (r.curves.lr.length > 0)
    panels.push(
      linePanel("lr", "Learning rate at the epoch's last step", r.curves.lr, {
        field: "lr",
        title: "learning rate",
        format: "~g",
      }),
    );
  if (r.curves.cotWeight.length > 0)
    panels.push(
      linePanel("cot", "Co-training weight", r.curves.cotWeight, {
        field: "cotWeight",
        title: "weight w",
      }),
    );
  return {
    id: `curves-${r.id}`,
    title: `${r.name}: ${r.arch}, S=${r.split}, seed ${r.seed}, ${r.dataset}`,
    caption:
      `Per epoch: test top-1 of the ensemble (black) and of each member` +
      `${r.curves.loss.length ? ", training and test loss" : ""}` +
      `${r.curves.lr.length ? ", learning rate" : ""}` +
      `${r.curves.cotWeight.length ? ", co-training weight" : ""}` +
      `${r.curves.loss.length || r.curves.lr.length ? "" : " (this run's log has no loss or learning-rate columns)"}.`,
    spec: {
      $schema: SCHEMA,
      title: `${r.name}: ${r.arch}, S=${r.split}, seed ${r.seed}, ${r.dataset}`,
      config: CONFIG,
      concat: panels,
      columns: 2,
      spacing: 30,
      resolve: { scale: { color: "independent" }, legend: { color: "independent" } },
    } as TopLevelSpec,
  };
}

// ---------------------------------------------------------------- trade-offs

/** The trade-off chart's series in legend order: measured first, then the paper's. */
export function tradeoffSeries(t: TradeoffChart): string[] {
  const measured = [
    ...new Set(t.points.filter((p) => p.source === "measured").map((p) => p.series)),
  ];
  const paper = [...new Set(t.points.filter((p) => p.source === "paper").map((p) => p.series))];
  return [...measured, ...paper];
}

// One legend for the two encodings of the source (shape and dash), which vega-lite merges.
const SOURCE_LEGEND = {
  orient: "bottom",
  direction: "vertical",
  labelExpr:
    "datum.label === 'paper' ? 'paper (reported)' : 'measured here (mean over seeds; bar: min–max)'",
} as const;

const QUADRANTS = [
  { name: "ur", align: "left", dx: 7, dy: -9, sx: 1, sy: 1 },
  { name: "lr", align: "left", dx: 7, dy: 11, sx: 1, sy: -1 },
  { name: "ul", align: "right", dx: -7, dy: -9, sx: -1, sy: 1 },
  { name: "ll", align: "right", dx: -7, dy: 11, sx: -1, sy: -1 },
] as const;

/**
 * Where each point's label goes: the first quadrant (up-right, down-right, up-left, down-left)
 * that neither segment of its series' line (to the previous and next S) points into.
 */
export function labelQuadrants(points: readonly TradeoffPoint[]): string[] {
  return points.map((p) => {
    const line = points
      .filter((o) => o.series === p.series && o.source === p.source)
      .sort((a, b) => a.split - b.split);
    const i = line.indexOf(p);
    const taken = [line[i - 1], line[i + 1]]
      .filter((o): o is TradeoffPoint => o !== undefined)
      .map((o) => [Math.sign(o.x - p.x), Math.sign(o.top1 - p.top1)]);
    const free = QUADRANTS.find((q) => !taken.some(([sx, sy]) => sx === q.sx && sy === q.sy));
    return (free ?? QUADRANTS[0]).name;
  });
}

/** Smallest top-1 range a trade-off chart shows, in points: a 0.2-point gap must not fill the chart. */
export const MIN_TOP1_SPAN = 2;

/** The y domain: the points' min–max, widened about its middle to at least MIN_TOP1_SPAN. */
export function top1Domain(points: readonly TradeoffPoint[]): [number, number] {
  const lo = Math.min(...points.map((p) => p.top1Min));
  const hi = Math.max(...points.map((p) => p.top1Max));
  const pad = Math.max(0, (MIN_TOP1_SPAN - (hi - lo)) / 2);
  return [lo - pad, hi + pad];
}

export function tradeoffSpec(t: TradeoffChart): ChartSpec {
  const series = tradeoffSeries(t);
  const quadrants = labelQuadrants(t.points);
  const sources = (["measured", "paper"] as const).filter((s) =>
    t.points.some((p) => p.source === s),
  );
  const nMeasured = new Set(t.points.filter((p) => p.source === "measured").map((p) => p.series))
    .size;
  // Measured series take the palette; the paper's points are grey shades, dashed, so they read
  // as reference, not as results.
  const range = series.map((_, i) =>
    i < nMeasured
      ? PALETTE[i % PALETTE.length]
      : ["#7f7f7f", "#a0a0a0", "#5f5f5f"][(i - nMeasured) % 3],
  );
  const color = {
    field: "series",
    type: "nominal",
    title: null,
    scale: { domain: series, range },
    legend: { orient: "bottom", direction: "vertical" },
  };
  const x = {
    field: "x",
    type: "quantitative",
    title: t.xTitle,
    // Room for the labels at both ends (up to ~90 px of "S=4 concurrent").
    scale: t.logX ? { type: "log", padding: 72 } : { zero: false, nice: false, padding: 72 },
  };
  const y = {
    field: "top1",
    type: "quantitative",
    title: "final ensemble top-1 (%)",
    scale: { zero: false, padding: 16, domain: top1Domain(t.points) },
  };
  const spec = {
    $schema: SCHEMA,
    title: t.title,
    config: CONFIG,
    width: 520,
    height: 320,
    data: { values: t.points.map((p, i) => ({ ...p, quadrant: quadrants[i] })) },
    layer: [
      {
        name: "tradeoff_line",
        mark: { type: "line", strokeWidth: 2 },
        encoding: {
          x,
          y,
          color,
          order: { field: "split", type: "quantitative" },
          strokeDash: {
            field: "source",
            type: "nominal",
            title: null,
            scale: {
              domain: sources,
              range: sources.map((s) => (s === "paper" ? [6, 4] : [1, 0])),
            },
            legend: SOURCE_LEGEND,
          },
        },
      },
      ...(t.points.some((p) => p.n > 1)
        ? [
            {
              name: "tradeoff_spread",
              transform: [{ filter: "datum.n > 1" }],
              mark: { type: "rule", strokeWidth: 1.5 },
              encoding: {
                x,
                y: { field: "top1Min", type: "quantitative" },
                y2: { field: "top1Max" },
                color,
              },
            },
          ]
        : []),
      {
        name: "tradeoff_point",
        mark: { type: "point", filled: true, size: 70, opacity: 1 },
        encoding: {
          x,
          y,
          color,
          shape: {
            field: "source",
            type: "nominal",
            title: null,
            scale: {
              domain: sources,
              range: sources.map((s) => (s === "paper" ? "diamond" : "circle")),
            },
            legend: SOURCE_LEGEND,
          },
        },
      },
      // S labels sit diagonally off their point, on a side no line of their series leaves by.
      // (Only layers with data: an empty layer gives its scale an infinite extent.)
      ...QUADRANTS.filter((q) => quadrants.includes(q.name)).map((q) => ({
        name: `tradeoff_label_${q.name}`,
        transform: [{ filter: `datum.quadrant === '${q.name}'` }],
        mark: { type: "text", fontSize: 10, align: q.align, dx: q.dx, dy: q.dy },
        encoding: { x, y, text: { field: "label" }, color },
      })),
    ],
  };
  return {
    id: `tradeoff-${t.kind}`,
    title: t.title,
    caption:
      `Each series connects S = 1, 2, 4 of one architecture; points are labelled with S` +
      (t.kind === "latency" ? " and the fastest execution mode at this batch size" : "") +
      ". Accuracy is the mean final ensemble top-1 over seeds (bars: min–max). " +
      (sources.includes("paper")
        ? "The paper's reported points for the same architecture and dataset are grey and dashed."
        : "The paper reports no point for these architectures and datasets."),
    spec: spec as TopLevelSpec,
  };
}

// ---------------------------------------------------------------- seeds

/** The seeds chart's series: one per (series, S) group with several seeds. */
export function seedSeries(groups: readonly SeedGroup[]): string[] {
  return groups.map((g) => `${g.series}, S=${g.split} (${g.seeds.length} seeds)`);
}

export function seedsSpec(groups: readonly SeedGroup[]): ChartSpec {
  const names = seedSeries(groups);
  const values = groups.flatMap((g, i) => g.curve.map((c) => ({ series: names[i], ...c })));
  const color = {
    field: "series",
    type: "nominal",
    title: null,
    scale: { domain: names, range: names.map((_, i) => PALETTE[i % PALETTE.length]) },
    // The legend is shared with the translucent band: draw its symbols opaque.
    legend: { orient: "bottom", direction: "vertical", symbolOpacity: 1 },
  };
  const x = { field: "epoch", type: "quantitative", axis: EPOCH_AXIS, scale: { nice: false } };
  return {
    id: "seeds-top1",
    title: "Ensemble top-1 over seeds",
    caption:
      "Runs that differ only by seed: mean test top-1 of the ensemble per epoch, the band spans the seeds' min to max.",
    spec: {
      $schema: SCHEMA,
      title: "Ensemble top-1 over seeds: mean, band from min to max",
      config: CONFIG,
      width: 520,
      height: 280,
      data: { values },
      layer: [
        {
          name: "seeds_band",
          mark: { type: "area", opacity: 0.18 },
          encoding: {
            x,
            y: {
              field: "min",
              type: "quantitative",
              title: "ensemble top-1 (%)",
              scale: { zero: false },
            },
            y2: { field: "max" },
            color,
          },
        },
        {
          name: "seeds_line",
          mark: { type: "line", strokeWidth: 2 },
          encoding: { x, y: { field: "mean", type: "quantitative" }, color },
        },
        {
          name: "seeds_point",
          mark: { type: "point", filled: true, size: 30 },
          encoding: { x, y: { field: "mean", type: "quantitative" }, color },
        },
      ],
    } as TopLevelSpec,
  };
}
