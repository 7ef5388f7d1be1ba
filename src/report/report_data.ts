// The data behind every chart and table of `divco report`'s HTML page (and its `--format json`
// output): per-run training curves, per-run summaries, seed groups (runs that differ only by
// seed), and the trade-off points — final ensemble top-1 against total params, MACs and measured
// latency — with the paper's reported points beside them where arch and dataset match.
// Pure: params/MACs come from a function the caller gives (building models is the CLI's job), so
// the same runs always give the same data.
import { basename } from "node:path";
import { bestLatencies, type LatencyEntry, type LatencyPoint } from "./latency_file.js";
import { paperPoints, type PaperPoint } from "./paper_results.js";
import type { RunEpoch, RunSummary } from "./run_report.js";

/** Params and MACs (the paper's conventions, REFERENCE.md §1.4) of a divided model. */
export interface ModelCounts {
  params: number;
  macs: number;
  memberParams: number[];
  memberMacs: number[];
}

/** Counts an (arch, S, dataset); may throw when it cannot be built (the report notes why). */
export type CountModel = (arch: string, split: number, dataset: string) => ModelCounts;

export interface ReportOptions {
  counts: CountModel;
  /** Latency measurements (`--latency FILE`); none gives no latency chart. */
  latency?: readonly LatencyEntry[];
  /** Batch size whose latencies are plotted (default 1). */
  latencyBatch?: number;
}

export interface AccuracyPoint {
  epoch: number;
  /** "ensemble" or "member N" (1-based). */
  series: string;
  top1: number;
}

export interface LossPoint {
  epoch: number;
  /** "training" or "test". */
  series: string;
  loss: number;
}

export interface RunCurves {
  accuracy: AccuracyPoint[];
  loss: LossPoint[];
  lr: { epoch: number; lr: number }[];
  /** Empty for S=1: there is no co-training term. */
  cotWeight: { epoch: number; cotWeight: number }[];
}

export interface EpochResult {
  epoch: number;
  top1: number;
  top5: number;
  memberTop1: number[];
}

export interface RunEntry {
  /** Unique within the report and safe in a file name. */
  id: string;
  name: string;
  dir: string;
  arch: string;
  dataset: string;
  split: number;
  seed: number;
  epochs: number;
  epochsDone: number;
  finished: boolean;
  /** One line: optimizer, schedule, batch, weight decay, augmentation, co-training loss. */
  recipe: string;
  /** Series name in the trade-off charts ("resnet29 · cifar10", plus what sets the recipe apart). */
  series: string;
  last: EpochResult | null;
  /** Epoch with the best ensemble top-1 (ties: the earliest); top5 is that epoch's. */
  best: EpochResult | null;
  /** Best top-5 over all epochs. */
  bestTop5: number | null;
  counts: ModelCounts | null;
  /** Means over the logged epochs. */
  secondsPerEpoch: number | null;
  imagesPerSecond: number | null;
  /** Extra evaluations of the last epoch (eval-<label>-epoch-N.json), by label. */
  extra: Record<string, { top1: number; memberTop1: number[] }>;
  curves: RunCurves;
}

export interface Spread {
  mean: number;
  min: number;
  max: number;
}

/** Finished runs that differ only by seed (same arch, dataset, S and recipe). */
export interface SeedGroup {
  series: string;
  arch: string;
  dataset: string;
  split: number;
  runIds: string[];
  seeds: number[];
  /** Final ensemble top-1 over the seeds. */
  top1: Spread;
  counts: ModelCounts | null;
  /** Per epoch (logged by every run of the group): ensemble top-1 over the seeds. */
  curve: ({ epoch: number } & Spread)[];
}

export interface TradeoffPoint {
  series: string;
  source: "measured" | "paper";
  arch: string;
  dataset: string;
  split: number;
  /** The point's label on the chart: "S=2", or "S=2 fused" on the latency chart. */
  label: string;
  x: number;
  top1: number;
  top1Min: number;
  top1Max: number;
  /** Seeds averaged (1 for the paper's points). */
  n: number;
}

export type TradeoffKind = "params" | "macs" | "latency";

export interface TradeoffChart {
  kind: TradeoffKind;
  title: string;
  xTitle: string;
  /** Use a log x scale (the x values span more than a factor of 20). */
  logX: boolean;
  points: TradeoffPoint[];
}

export interface ReportData {
  runs: RunEntry[];
  groups: SeedGroup[];
  tradeoffs: TradeoffChart[];
  /** Why something is not on a chart: unfinished runs, models not counted, missing latencies. */
  notes: string[];
}

/** Config keys that do not change what a run learns: left out when comparing recipes. */
const NOT_RECIPE = new Set([
  "arch",
  "dataset",
  "split",
  "seed",
  "runDir",
  "workers",
  "threads",
  "keepLast",
  "device",
  "concurrentMembers",
  "memoryFormat",
  "evalBatchSize",
  "epochsDone",
]);

export function buildReport(summaries: readonly RunSummary[], o: ReportOptions): ReportData {
  const notes: string[] = [];
  const countCache = new Map<string, ModelCounts | null>();
  // Building a model to count it takes time: once per (arch, S, dataset) in a report.
  const countOf = (arch: string, split: number, dataset: string) => {
    const k = `${arch}/${split}/${dataset}`;
    if (!countCache.has(k)) {
      let c: ModelCounts | null = null;
      try {
        c = o.counts(arch, split, dataset);
      } catch (e) {
        notes.push(
          `params/MACs of ${arch} S=${split} on ${dataset} could not be counted: ${(e as Error).message}`,
        );
      }
      countCache.set(k, c);
    }
    return countCache.get(k)!;
  };
  const seriesNames = seriesOf(summaries);
  const ids = uniqueIds(summaries.map((r) => basename(r.dir) || "run"));
  const runs = summaries.map((r, i) => runEntry(r, ids[i], seriesNames[i], countOf));
  for (const r of runs)
    if (!r.finished)
      notes.push(
        `${r.name}: ${r.epochsDone} of ${r.epochs} epochs logged; not in the trade-off or seed charts until it finishes`,
      );
  const groups = seedGroups(runs, summaries);
  const tradeoffs: TradeoffChart[] = [];
  if (groups.length > 0) {
    tradeoffs.push(countChart(groups, "params"), countChart(groups, "macs"));
    if (o.latency && o.latency.length > 0) {
      const chart = latencyChart(groups, o.latency, o.latencyBatch ?? 1, notes);
      if (chart) tradeoffs.push(chart);
    }
  } else if (runs.length > 0) {
    notes.push("no run has finished all its epochs yet: no trade-off charts");
  }
  return { runs, groups, tradeoffs: tradeoffs.filter((t) => t.points.length > 0), notes };
}

// ---------------------------------------------------------------- runs

function runEntry(
  r: RunSummary,
  id: string,
  series: string,
  countOf: (arch: string, split: number, dataset: string) => ModelCounts | null,
): RunEntry {
  const rows = r.rows.filter((x) => Number.isFinite(x.epoch));
  const lastRow = rows.length > 0 ? rows[rows.length - 1] : null;
  const bestRow = rows.reduce<RunEpoch | null>(
    (b, x) => (Number.isFinite(x.top1) && (b === null || x.top1 > b.top1) ? x : b),
    null,
  );
  const top5s = rows.map((x) => x.top5).filter(Number.isFinite);
  const result = (x: RunEpoch | null): EpochResult | null =>
    x && { epoch: x.epoch, top1: x.top1, top5: x.top5, memberTop1: x.memberTop1 };
  return {
    id,
    name: basename(r.dir),
    dir: r.dir,
    arch: r.arch,
    dataset: r.dataset,
    split: r.split,
    seed: r.seed,
    epochs: r.epochs,
    epochsDone: lastRow?.epoch ?? 0,
    finished: lastRow !== null && lastRow.epoch === r.epochs,
    recipe: recipeLine(r.config),
    series,
    last: result(lastRow),
    best: result(bestRow),
    bestTop5: top5s.length > 0 ? Math.max(...top5s) : null,
    counts: countOf(r.arch, r.split, r.dataset),
    secondsPerEpoch: meanOf(rows.map((x) => x.seconds)),
    imagesPerSecond: meanOf(rows.map((x) => x.imagesPerSecond)),
    extra: lastRow?.extra ?? {},
    curves: curvesOf(rows, r.split),
  };
}

function curvesOf(rows: readonly RunEpoch[], split: number): RunCurves {
  const accuracy: AccuracyPoint[] = [];
  const loss: LossPoint[] = [];
  const lr: RunCurves["lr"] = [];
  const cotWeight: RunCurves["cotWeight"] = [];
  for (const x of rows) {
    if (Number.isFinite(x.top1))
      accuracy.push({ epoch: x.epoch, series: "ensemble", top1: x.top1 });
    if (split > 1)
      x.memberTop1.forEach((v, i) => {
        if (Number.isFinite(v))
          accuracy.push({ epoch: x.epoch, series: `member ${i + 1}`, top1: v });
      });
    if (Number.isFinite(x.trainLoss))
      loss.push({ epoch: x.epoch, series: "training", loss: x.trainLoss });
    if (Number.isFinite(x.valLoss)) loss.push({ epoch: x.epoch, series: "test", loss: x.valLoss });
    if (Number.isFinite(x.lr)) lr.push({ epoch: x.epoch, lr: x.lr });
    if (split > 1 && Number.isFinite(x.cotWeight))
      cotWeight.push({ epoch: x.epoch, cotWeight: x.cotWeight });
  }
  return { accuracy, loss, lr, cotWeight };
}

function meanOf(vs: readonly number[]): number | null {
  const ok = vs.filter(Number.isFinite);
  return ok.length > 0 ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
}

function spread(vs: readonly number[]): Spread {
  return {
    mean: vs.reduce((a, b) => a + b, 0) / vs.length,
    min: Math.min(...vs),
    max: Math.max(...vs),
  };
}

/** File-safe names from run directory names, numbered where two runs share one. */
function uniqueIds(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((n) => {
    const base = n.replace(/[^A-Za-z0-9._-]+/g, "_");
    let id = base;
    for (let k = 2; used.has(id); k++) id = `${base}-${k}`;
    used.add(id);
    return id;
  });
}

const plural = (n: unknown, noun: string) => `${fmt(n)} ${noun}${n === 1 ? "" : "s"}`;
const fmt = (v: unknown) =>
  typeof v === "number" || typeof v === "string" ? String(v) : JSON.stringify(v);

/** A readable one-line recipe from config.json (keys an older run lacks are left out). */
export function recipeLine(c: Record<string, unknown>): string {
  const parts: string[] = [];
  const has = (k: string) => c[k] !== undefined && c[k] !== null;
  if (has("optimizer"))
    parts.push(
      `${c.optimizer}${c.optimizer === "SGD" && c.nesterov ? " (Nesterov)" : ""} lr ${fmt(c.lr)}, ${c.lrMode ?? "?"} schedule` +
        (has("warmupEpochs") ? `, ${plural(c.warmupEpochs, "warm-up epoch")}` : ""),
    );
  if (has("batchSize")) parts.push(`batch ${c.batchSize}`);
  if (has("weightDecay"))
    parts.push(`weight decay ${fmt(c.weightDecay)}${c.divideWeightDecay ? "·exp(1/S−1)" : ""}`);
  const aug: string[] = [];
  if (c.autoaugment) aug.push("AutoAugment");
  if (typeof c.randaugment === "string") aug.push(`RandAugment ${c.randaugment}`);
  if (c.cutout && typeof c.eraseP === "number" && c.eraseP > 0) aug.push(`erasing p=${c.eraseP}`);
  if (typeof c.mixupAlpha === "number" && c.mixupAlpha > 0) aug.push(`mixup α=${c.mixupAlpha}`);
  if (typeof c.labelSmoothing === "number" && c.labelSmoothing > 0)
    aug.push(`label smoothing ${c.labelSmoothing}`);
  if (aug.length) parts.push(aug.join(" + "));
  if (has("cotLoss") && c.split !== 1)
    parts.push(
      `${c.cotLoss} weight ${fmt(c.cotWeight)}` +
        (has("cotWarmupEpochs") ? ` (warmed up over ${plural(c.cotWarmupEpochs, "epoch")})` : ""),
    );
  if (has("data")) {
    const limits = [
      typeof c.trainLimit === "number" && c.trainLimit > 0 ? `first ${c.trainLimit} train` : "",
      typeof c.evalLimit === "number" && c.evalLimit > 0 ? `first ${c.evalLimit} test` : "",
    ].filter(Boolean);
    parts.push(
      `data ${c.data === "sample" ? "embedded sample" : fmt(c.data)}${limits.length ? ` (${limits.join(", ")} records)` : ""}`,
    );
  }
  return parts.join("; ");
}

/** The recipe a run was trained with, as a canonical string (what seed groups share). */
function recipeKey(c: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(c)
      .filter((k) => !NOT_RECIPE.has(k))
      .sort()
      .map((k) => [k, c[k]]),
  );
}

/**
 * Trade-off series names: "arch · dataset", plus, where runs of one arch and dataset were trained
 * with different recipes, the config values that differ ("epochs=5").
 */
function seriesOf(summaries: readonly RunSummary[]): string[] {
  const byModel = new Map<string, RunSummary[]>();
  for (const r of summaries) {
    const k = `${r.arch} · ${r.dataset}`;
    byModel.set(k, [...(byModel.get(k) ?? []), r]);
  }
  return summaries.map((r) => {
    const base = `${r.arch} · ${r.dataset}`;
    const peers = byModel.get(base)!;
    if (new Set(peers.map((p) => recipeKey(p.config))).size <= 1) return base;
    const keys = [...new Set(peers.flatMap((p) => Object.keys(p.config)))]
      .filter((k) => !NOT_RECIPE.has(k))
      .filter((k) => new Set(peers.map((p) => JSON.stringify(p.config[k]))).size > 1)
      .sort();
    return `${base} (${keys.map((k) => `${k}=${fmt(r.config[k])}`).join(", ")})`;
  });
}

// ---------------------------------------------------------------- seeds

function seedGroups(runs: readonly RunEntry[], summaries: readonly RunSummary[]): SeedGroup[] {
  const groups = new Map<string, { run: RunEntry; summary: RunSummary }[]>();
  runs.forEach((run, i) => {
    if (!run.finished || !run.last || !Number.isFinite(run.last.top1)) return;
    const k = `${run.series}\u0000${run.split}`;
    groups.set(k, [...(groups.get(k) ?? []), { run, summary: summaries[i] }]);
  });
  const out: SeedGroup[] = [];
  for (const members of groups.values()) {
    const first = members[0].run;
    const perEpoch = new Map<number, number[]>();
    for (const { summary } of members)
      for (const x of summary.rows)
        if (Number.isFinite(x.top1))
          perEpoch.set(x.epoch, [...(perEpoch.get(x.epoch) ?? []), x.top1]);
    out.push({
      series: first.series,
      arch: first.arch,
      dataset: first.dataset,
      split: first.split,
      runIds: members.map((m) => m.run.id),
      seeds: members.map((m) => m.run.seed),
      top1: spread(members.map((m) => m.run.last!.top1)),
      counts: first.counts,
      curve: [...perEpoch]
        .filter(([, vs]) => vs.length === members.length)
        .sort(([a], [b]) => a - b)
        .map(([epoch, vs]) => ({ epoch, ...spread(vs) })),
    });
  }
  return out.sort((a, b) => a.series.localeCompare(b.series) || a.split - b.split);
}

// ---------------------------------------------------------------- trade-offs

function measuredPoint(g: SeedGroup, x: number, label = `S=${g.split}`): TradeoffPoint {
  return {
    series: g.series,
    source: "measured",
    arch: g.arch,
    dataset: g.dataset,
    split: g.split,
    label,
    x,
    top1: g.top1.mean,
    top1Min: g.top1.min,
    top1Max: g.top1.max,
    n: g.seeds.length,
  };
}

function paperPoint(p: PaperPoint, x: number): TradeoffPoint {
  return {
    series: `paper: ${p.arch} · ${p.dataset} (${p.ref}, ${p.note})`,
    source: "paper",
    arch: p.arch,
    dataset: p.dataset,
    split: p.split,
    label: `S=${p.split}`,
    x,
    top1: p.top1,
    top1Min: p.top1,
    top1Max: p.top1,
    n: 1,
  };
}

/** The (arch, dataset) pairs of the groups: where paper points are drawn. */
function modelsOf(groups: readonly SeedGroup[]): [string, string][] {
  const seen = new Map<string, [string, string]>();
  for (const g of groups) seen.set(`${g.arch}\u0000${g.dataset}`, [g.arch, g.dataset]);
  return [...seen.values()];
}

function countChart(groups: readonly SeedGroup[], kind: "params" | "macs"): TradeoffChart {
  const counted = groups.filter((g) => g.counts);
  const paper = modelsOf(counted).flatMap(([a, d]) => paperPoints(a, d));
  // Params in millions; MACs in millions, or billions (the paper's GFLOPs) for large models.
  const maxMacs = Math.max(
    0,
    ...counted.map((g) => g.counts!.macs),
    ...paper.map((p) => (p.gmacs ?? 0) * 1e9),
  );
  const unit = kind === "params" ? 1e6 : maxMacs >= 1e9 ? 1e9 : 1e6;
  const points = counted.map((g) =>
    measuredPoint(g, (kind === "params" ? g.counts!.params : g.counts!.macs) / unit),
  );
  for (const p of paper) {
    const v = kind === "params" ? p.paramsM : p.gmacs;
    if (v !== undefined) points.push(paperPoint(p, (v * (kind === "params" ? 1e6 : 1e9)) / unit));
  }
  const u = unit === 1e9 ? "G" : "M";
  return {
    kind,
    title:
      kind === "params"
        ? "Final ensemble top-1 against parameters"
        : "Final ensemble top-1 against multiply-accumulates",
    xTitle:
      kind === "params"
        ? `total parameters over the S members (${u})`
        : `total MACs per image over the S members (${u})`,
    logX: spansDecades(points),
    points,
  };
}

function latencyChart(
  groups: readonly SeedGroup[],
  entries: readonly LatencyEntry[],
  batch: number,
  notes: string[],
): TradeoffChart | null {
  const best = bestLatencies(entries, batch);
  if (best.length === 0) {
    const batches = [...new Set(entries.map((e) => e.batch))].sort((a, b) => a - b);
    notes.push(
      `no latency measured at batch ${batch} (the files have batch ${batches.join(", ")}; choose one with --latency-batch)`,
    );
    return null;
  }
  const find = (g: SeedGroup): LatencyPoint | undefined =>
    best.find((l) => l.arch === g.arch && l.dataset === g.dataset && l.split === g.split);
  const points: TradeoffPoint[] = [];
  for (const g of groups) {
    const l = find(g);
    if (l)
      points.push(measuredPoint(g, l.msPerImage, g.split === 1 ? "S=1" : `S=${g.split} ${l.mode}`));
  }
  for (const l of best)
    if (!groups.some((g) => g.arch === l.arch && g.dataset === l.dataset && g.split === l.split))
      notes.push(
        `latency of ${l.arch} S=${l.split} on ${l.dataset} has no finished run to pair with`,
      );
  const plotted = modelsOf(groups.filter((g) => find(g)));
  for (const p of plotted.flatMap(([a, d]) => paperPoints(a, d)))
    if (p.latencyMs !== undefined) points.push(paperPoint(p, p.latencyMs));
  return {
    kind: "latency",
    title: `Final ensemble top-1 against latency (batch ${batch}, fastest mode per S)`,
    xTitle: `latency per image, median at batch ${batch} (ms)`,
    logX: spansDecades(points),
    points,
  };
}

function spansDecades(points: readonly TradeoffPoint[]): boolean {
  const xs = points.map((p) => p.x).filter((x) => x > 0);
  return xs.length > 1 && Math.max(...xs) / Math.min(...xs) > 20;
}
