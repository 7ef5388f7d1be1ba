/**
 * `divco summary`: parameters and MACs of an architecture and its divided forms, before any
 * compute is spent. Exit codes: 0 ok, 1 model problem, 2 usage error.
 */
import { parseCommand, stdio, type Out } from "./args.js";
import { create, list, lookup, NUM_CLASSES, type DatasetKind } from "../models/index.js";
import { countMembers, humanCount, type SplitCounts } from "../report/accounting.js";

const HELP = `divco summary — params and MACs of a network and its S-member divisions

Usage:
  divco summary --arch NAME [--split 1,2,4] [--dataset D] [--crop N] [--num-classes N]
                [--json] [--keys]
  divco summary --list [--json]

Options:
  --arch NAME         architecture (official names: resnet110, wide_resnet28_10, ...)
  --split LIST        comma-separated S values (default: the allowed ones among 1,2,4)
  --dataset D         cifar10 | cifar100 | svhn | imagenet (default: cifar100 for CIFAR
                      architectures, as in the paper's Table II; imagenet otherwise)
  --crop N            input size for MAC counting (default: 32, ImageNet 224 or the arch's)
  --num-classes N     classifier outputs (default: the dataset's)
  --json              machine-readable output
  --keys              also list the state-dict keys with their shapes
  --list              every registered architecture with its allowed S and datasets
  -h, --help          this text

Params are trainable parameters; MACs are the multiply-accumulates of conv and linear
layers for one image (the paper's "FLOPs"), per member and summed over the S members.
The "summary.py" columns follow the official tool: parameters plus BN running statistics,
and flops(M) = (mults + adds)/2 including BN.
`;


const DATASETS = Object.keys(NUM_CLASSES) as DatasetKind[];

export interface SummaryRow extends SplitCounts {
  keys?: [string, number[]][];
}

/** Counts `arch` at each S (models are built one at a time and freed). */
export function summarize(arch: string, splits: number[], o: { dataset: DatasetKind; crop?: number; numClasses?: number; keys?: boolean }): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const split of splits) {
    const members = create(arch, { split, dataset: o.dataset, crop: o.crop, numClasses: o.numClasses });
    try {
      const row: SummaryRow = countMembers(members, { crop: members.options.crop });
      if (o.keys) row.keys = [...members.stateDict()].map(([k, t]) => [k, t.shape]);
      rows.push(row);
    } finally {
      members.dispose();
    }
  }
  return rows;
}

function parseSplits(s: string): number[] {
  const out = s.split(",").map((x) => x.trim()).filter((x) => x !== "").map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--split takes positive integers separated by commas, got "${s}"`);
  return [...new Set(out)];
}

class UsageError extends Error {}

export async function runSummary(argv: string[], out: Out = stdio): Promise<number> {
  const parsed = parseCommand("summary", argv, {
        arch: { type: "string" },
        split: { type: "string" },
        dataset: { type: "string" },
        crop: { type: "string" },
        "num-classes": { type: "string" },
        json: { type: "boolean" },
        keys: { type: "boolean" },
        list: { type: "boolean" },
  }, HELP, out);
  if (typeof parsed === "number") return parsed;
  const { values, usage } = parsed;
  if (values.list) {
    const archs = list();
    if (values.json) out.log(JSON.stringify(archs, null, 2));
    else {
      const w = Math.max(...archs.map((a) => a.name.length));
      out.log(`${"arch".padEnd(w)}  ${"family".padEnd(12)} ${"S".padEnd(14)} ${"datasets".padEnd(24)} description`);
      for (const a of archs) out.log(`${a.name.padEnd(w)}  ${a.family.padEnd(12)} ${a.splits.join(",").padEnd(14)} ${a.datasets.join(",").padEnd(24)} ${a.description}`);
    }
    return 0;
  }
  if (!values.arch) return usage("--arch NAME is required (or --list)");
  let entry;
  try {
    entry = lookup(values.arch);
  } catch (e) {
    return usage((e as Error).message);
  }
  try {
    let dataset: DatasetKind;
    if (values.dataset !== undefined) {
      if (!DATASETS.includes(values.dataset as DatasetKind)) return usage(`unknown dataset "${values.dataset}"; use ${DATASETS.join(", ")}`);
      dataset = values.dataset as DatasetKind;
    } else {
      dataset = entry.datasets.includes("cifar100") ? "cifar100" : entry.datasets[0];
    }
    const splits = values.split !== undefined ? parseSplits(values.split) : entry.splits.filter((s) => [1, 2, 4].includes(s));
    const bad = splits.filter((s) => !entry.splits.includes(s));
    if (bad.length) return usage(`${entry.name} cannot be divided into S=${bad.join(",")}; allowed: ${entry.splits.join(", ")}`);
    if (!entry.datasets.includes(dataset)) return usage(`${entry.name} is not defined for ${dataset}; it is for ${entry.datasets.join(", ")}`);
    const num = (flag: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a positive integer, got "${v}"`);
      return n;
    };
    const crop = num("--crop", values.crop);
    const numClasses = num("--num-classes", values["num-classes"]);
    const rows = summarize(entry.name, splits, { dataset, crop, numClasses, keys: values.keys });
    const base = rows.find((r) => r.split === 1);
    const effCrop = crop ?? (dataset === "imagenet" ? (entry.defaultCrop ?? 224) : 32);
    if (values.json) {
      out.log(JSON.stringify({
        arch: entry.name, dataset, crop: effCrop, num_classes: numClasses ?? NUM_CLASSES[dataset],
        splits: rows.map((r) => ({
          split: r.split,
          params_total: r.total.params,
          params_per_member: r.perMember.map((c) => c.params),
          macs_total: r.total.macs,
          macs_per_member: r.perMember.map((c) => c.macs),
          params_ratio: base ? r.total.params / base.total.params : null,
          macs_ratio: base ? r.total.macs / base.total.macs : null,
          summary_py: { params_total: r.total.summaryParams, flops_total: r.total.summaryFlops },
          ...(r.keys ? { keys: Object.fromEntries(r.keys) } : {}),
        })),
      }, null, 2));
      return 0;
    }
    out.log(`${entry.name} on ${dataset} (${numClasses ?? NUM_CLASSES[dataset]} classes, ${effCrop}×${effCrop} input)`);
    const header = ["S", "params/member", "params total", "×S=1", "MACs/member", "MACs total", "×S=1", "summary.py params", "summary.py flops(M)"];
    const table = rows.map((r) => [
      String(r.split),
      humanCount(r.perMember[0].params),
      humanCount(r.total.params),
      base ? (r.total.params / base.total.params).toFixed(3) : "–",
      humanCount(r.perMember[0].macs),
      humanCount(r.total.macs),
      base ? (r.total.macs / base.total.macs).toFixed(3) : "–",
      humanCount(r.total.summaryParams),
      humanCount(r.total.summaryFlops),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
    out.log(fmt(header));
    out.log(widths.map((w) => "-".repeat(w)).join("  "));
    for (const row of table) out.log(fmt(row));
    if (values.keys) {
      for (const r of rows) {
        out.log(`\nstate-dict keys, S=${r.split}:`);
        for (const [k, shape] of r.keys ?? []) out.log(`  ${k}  [${shape.join(", ")}]`);
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) return usage(e.message);
    out.err(`divco summary: ${(e as Error).message}`);
    return 1;
  }
}
