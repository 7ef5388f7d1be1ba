// Per-epoch tables of finished or running run directories, as Markdown (docs/results.md is made
// with it, so no number there is typed by hand). Reads what the trainer writes — config.json and
// metrics.jsonl — plus any extra evaluations saved next to them as
// `eval-<label>-epoch-NNNN.json` (`divco eval --json` output), which become extra columns.
// readRun is also what the HTML/JSON report (report_data.ts) reads a run with.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { readMetrics, type MetricsRow } from "./metrics_log.js";

export interface RunEpoch {
  epoch: number;
  top1: number;
  top5: number;
  memberTop1: number[];
  seconds: number;
  imagesPerSecond: number;
  /** Training loss per image: Σ members' CE + w·co-training term (NaN where not logged). */
  trainLoss: number;
  /** Test loss, summed over the members (the reference's convention, REFERENCE.md §4). */
  valLoss: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Co-training weight w(epoch) (REFERENCE.md §3.2). */
  cotWeight: number;
  /** label → ensemble top-1 and member top-1 of the extra evaluations of this epoch. */
  extra: Record<string, { top1: number; memberTop1: number[] }>;
}

export interface RunSummary {
  dir: string;
  arch: string;
  split: number;
  seed: number;
  epochs: number;
  /** The dataset kind; runs from before it was recorded trained on the default, CIFAR-10. */
  dataset: string;
  /** Every value of config.json, as written by the trainer. */
  config: Record<string, unknown>;
  rows: RunEpoch[];
}

const EXTRA = /^eval-(.+)-epoch-(\d+)\.json$/;

export function readRun(dir: string): RunSummary {
  const cfgPath = join(dir, "config.json");
  if (!existsSync(cfgPath)) throw new Error(`${dir} is not a divco run directory (no config.json)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(cfgPath, "utf8"));
  } catch (e) {
    throw new Error(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  const cfg = raw as { arch: string; split: number; seed: number; epochs: number };
  if (typeof cfg.arch !== "string" || !Number.isInteger(cfg.split) || cfg.split < 1)
    throw new Error(`${cfgPath}: not a divco run configuration (no arch or split)`);
  const num = (r: MetricsRow, k: string) => (typeof r[k] === "number" ? (r[k] as number) : NaN);
  const rows: RunEpoch[] = (existsSync(join(dir, "metrics.jsonl")) ? readMetrics(dir) : []).map(
    (r) => ({
      epoch: num(r, "epoch"),
      top1: num(r, "val_acc1"),
      top5: num(r, "val_acc5"),
      memberTop1: Array.from({ length: cfg.split }, (_, i) => num(r, `val_acc1_member${i}`)),
      seconds: num(r, "epoch_seconds"),
      imagesPerSecond: num(r, "train_images_per_s"),
      trainLoss: num(r, "train_loss"),
      valLoss: num(r, "val_loss"),
      lr: num(r, "lr"),
      cotWeight: num(r, "cot_weight"),
      extra: {},
    }),
  );
  for (const f of readdirSync(dir)) {
    const m = EXTRA.exec(f);
    if (!m) continue;
    const row = rows.find((r) => r.epoch === Number(m[2]));
    if (!row) continue;
    let e: { top1: number; memberTop1: number[] };
    try {
      e = JSON.parse(readFileSync(join(dir, f), "utf8"));
    } catch (err) {
      throw new Error(
        `${join(dir, f)}: not a divco eval --json result (${(err as Error).message})`,
      );
    }
    if (typeof e.top1 !== "number" || !Array.isArray(e.memberTop1))
      throw new Error(`${join(dir, f)}: not a divco eval --json result (no top1/memberTop1)`);
    row.extra[m[1]] = { top1: e.top1, memberTop1: e.memberTop1 };
  }
  const dataset = typeof raw.dataset === "string" ? raw.dataset : "cifar10";
  return {
    dir,
    arch: cfg.arch,
    split: cfg.split,
    seed: cfg.seed,
    epochs: cfg.epochs,
    dataset,
    config: raw,
    rows,
  };
}

const pct = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "–");
const members = (vs: number[]) => (vs.length > 1 ? vs.map(pct).join(" / ") : "–");

/** One Markdown table per run: every logged epoch with test accuracies, time and throughput. */
export function runTable(r: RunSummary): string {
  const labels = [...new Set(r.rows.flatMap((x) => Object.keys(x.extra)))].sort();
  const head = [
    "epoch",
    "ensemble top-1 (top-5)",
    "member top-1",
    ...labels.flatMap((l) => [`${l} ensemble`, `${l} members`]),
    "s/epoch",
    "train img/s",
  ];
  const lines = [
    `**${r.arch}, S=${r.split}, seed ${r.seed}** (${basename(r.dir)}; ${r.rows.length}/${r.epochs} epochs)`,
    "",
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
  ];
  for (const x of r.rows) {
    const extra = labels.flatMap((l) =>
      x.extra[l] ? [pct(x.extra[l].top1), members(x.extra[l].memberTop1)] : ["–", "–"],
    );
    lines.push(
      `| ${[x.epoch, `${pct(x.top1)} (${pct(x.top5)})`, members(x.memberTop1), ...extra, x.seconds.toFixed(0), x.imagesPerSecond.toFixed(1)].join(" | ")} |`,
    );
  }
  return lines.join("\n");
}

/** Final-epoch ensemble top-1 per (arch, S): mean and each seed, over runs that finished. */
export function finalTable(runs: RunSummary[]): string {
  const groups = new Map<string, RunSummary[]>();
  for (const r of runs) {
    if (r.rows.length === 0 || r.rows[r.rows.length - 1].epoch !== r.epochs) continue;
    const k = `${r.arch} S=${r.split}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  if (groups.size === 0) return "(no run has finished all its epochs yet)";
  const labels = [
    ...new Set(runs.flatMap((r) => r.rows.flatMap((x) => Object.keys(x.extra)))),
  ].sort();
  const head = [
    "model",
    "seeds",
    "final ensemble top-1, mean (per seed)",
    ...labels.map((l) => `${l}, mean (per seed)`),
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  const cell = (vs: number[]) =>
    `${pct(vs.reduce((a, b) => a + b, 0) / vs.length)} (${vs.map(pct).join(", ")})`;
  for (const [k, rs] of groups) {
    const last = rs.map((r) => r.rows[r.rows.length - 1]);
    const extra = labels.map((l) =>
      last.every((x) => x.extra[l]) ? cell(last.map((x) => x.extra[l].top1)) : "–",
    );
    lines.push(
      `| ${[k, rs.map((r) => r.seed).join(", "), cell(last.map((x) => x.top1)), ...extra].join(" | ")} |`,
    );
  }
  return lines.join("\n");
}
