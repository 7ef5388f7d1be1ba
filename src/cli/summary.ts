// `divco summary`: parameters and MACs of an architecture and its divided forms, before any
// compute is spent. Exit codes: 0 ok, 1 model problem, 2 usage error.
import {
  defineCommand,
  intFlag,
  runCommand,
  stdio,
  UsageError,
  type Out,
  type ValuesOf,
} from "./args.js";
import { defaultDataset, NUM_CLASSES_FLAG } from "./arch_flags.js";
import { create, list, resolveArch, ArchError, type DatasetKind } from "../models/registry.js";
import { NUM_CLASSES } from "../data/stats.js";
import { countMembers, humanCount, type SplitCounts } from "../report/accounting.js";
import "../models/index.js";

export const SUMMARY = defineCommand({
  name: "summary",
  summary: "params and MACs of a network and its S-member divisions",
  usage: [
    "--arch NAME [--split 1,2,4] [--dataset D] [--crop N] [--num-classes N]",
    " [--json] [--keys]",
    "--list [--json]",
  ],
  flags: {
    arch: {
      type: "string",
      value: "NAME",
      description:
        "architecture (official names: resnet110, wide_resnet28_10, ...); required unless --list",
    },
    split: {
      type: "string",
      value: "S,S,...",
      defaultText: "1,2,4",
      description: "comma-separated S values (by default those of 1, 2, 4 the arch allows)",
    },
    dataset: {
      type: "string",
      value: "D",
      defaultText: "by arch",
      description:
        "cifar10, cifar100, svhn or imagenet; cifar100 for CIFAR archs (the paper's Table II), else imagenet",
    },
    crop: {
      type: "string",
      value: "N",
      defaultText: "32 or 224",
      description:
        "input size for MAC counting (32 on CIFAR/SVHN; ImageNet: 224 or the arch's own)",
    },
    "num-classes": NUM_CLASSES_FLAG,
    json: { type: "boolean", description: "machine-readable output" },
    keys: { type: "boolean", description: "also list the state-dict keys with their shapes" },
    list: {
      type: "boolean",
      description: "every registered architecture with its allowed S and datasets",
    },
  },
  notes: `Params are trainable parameters; MACs are the multiply-accumulates of conv and linear
layers for one image (the paper's "FLOPs"), per member and summed over the S members.
The "summary.py" columns follow the official tool: parameters plus BN running statistics,
and flops(M) = (mults + adds)/2 including BN.

Exit codes: 0 ok, 1 model problem, 2 usage error (flags, architecture, S, dataset).`,
});

export interface SummaryRow extends SplitCounts {
  keys?: [string, number[]][];
}

/** Counts `arch` at each S (models are built one at a time and freed). */
export function summarize(
  arch: string,
  splits: number[],
  o: { dataset: DatasetKind; crop?: number; numClasses?: number; keys?: boolean },
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const split of splits) {
    const members = create(arch, {
      split,
      dataset: o.dataset,
      crop: o.crop,
      numClasses: o.numClasses,
    });
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
  const out = s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "")
    .map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1))
    throw new UsageError(`--split takes positive integers separated by commas, got "${s}"`);
  return [...new Set(out)];
}

export async function runSummary(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(SUMMARY, argv, out, (args) => summary(args.values, out), {
    usageErrors: [ArchError],
  });
}

function summary(values: ValuesOf<typeof SUMMARY>, out: Out): number {
  if (values.list) {
    const archs = list();
    if (values.json) out.log(JSON.stringify(archs, null, 2));
    else {
      const w = Math.max(...archs.map((a) => a.name.length));
      out.log(
        `${"arch".padEnd(w)}  ${"family".padEnd(12)} ${"S".padEnd(14)} ${"datasets".padEnd(24)} description`,
      );
      for (const a of archs)
        out.log(
          `${a.name.padEnd(w)}  ${a.family.padEnd(12)} ${a.splits.join(",").padEnd(14)} ${a.datasets.join(",").padEnd(24)} ${a.description}`,
        );
    }
    return 0;
  }
  if (!values.arch) throw new UsageError("--arch NAME is required (or --list)");
  const dataset = (values.dataset ?? defaultDataset(resolveArch(values.arch))) as DatasetKind;
  const entry = resolveArch(values.arch, { dataset });
  const splits =
    values.split !== undefined
      ? parseSplits(values.split)
      : entry.splits.filter((s) => [1, 2, 4].includes(s));
  for (const split of splits) resolveArch(entry.name, { split });
  const crop = values.crop === undefined ? undefined : intFlag("crop", values.crop);
  const numClasses =
    values["num-classes"] === undefined ? undefined : intFlag("num-classes", values["num-classes"]);
  try {
    const rows = summarize(entry.name, splits, { dataset, crop, numClasses, keys: values.keys });
    const base = rows.find((r) => r.split === 1);
    const effCrop = crop ?? (dataset === "imagenet" ? (entry.defaultCrop ?? 224) : 32);
    if (values.json) {
      out.log(
        JSON.stringify(
          {
            arch: entry.name,
            dataset,
            crop: effCrop,
            num_classes: numClasses ?? NUM_CLASSES[dataset],
            splits: rows.map((r) => ({
              split: r.split,
              params_total: r.total.params,
              params_per_member: r.perMember.map((c) => c.params),
              macs_total: r.total.macs,
              macs_per_member: r.perMember.map((c) => c.macs),
              params_ratio: base ? r.total.params / base.total.params : null,
              macs_ratio: base ? r.total.macs / base.total.macs : null,
              summary_py: {
                params_total: r.total.summaryParams,
                flops_total: r.total.summaryFlops,
              },
              ...(r.keys ? { keys: Object.fromEntries(r.keys) } : {}),
            })),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    out.log(
      `${entry.name} on ${dataset} (${numClasses ?? NUM_CLASSES[dataset]} classes, ${effCrop}×${effCrop} input)`,
    );
    const header = [
      "S",
      "params/member",
      "params total",
      "×S=1",
      "MACs/member",
      "MACs total",
      "×S=1",
      "summary.py params",
      "summary.py flops(M)",
    ];
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
    out.err(`divco summary: ${(e as Error).message}`);
    return 1;
  }
}
