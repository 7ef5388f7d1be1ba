// The model-choosing flags shared by import, infer, summary and eval (--arch, --split, --dataset,
// --num-classes, --extra): their declarations and their conversion into registry build options.
// Whether an architecture allows an S or a dataset is decided by the registry (resolveArch) alone.
import { resolveArch, type ArchEntry, type DatasetKind } from "../models/registry.js";
import { intFlag, UsageError, type StringFlag } from "./args.js";

export const NUM_CLASSES_FLAG = {
  type: "string",
  value: "N",
  description: "classifier outputs",
  defaultText: "the dataset's",
} as const satisfies StringFlag;

export const EXTRA_FLAG = {
  type: "string",
  value: "KEY=NUMBER",
  multiple: true,
  description:
    "family option (divco summary --list names them), e.g. width=4 for shrunken test models",
} as const satisfies StringFlag;

/** The dataset a command uses when none is given: CIFAR-100 for CIFAR architectures (the paper's Table II). */
export function defaultDataset(entry: ArchEntry): DatasetKind {
  return entry.datasets.includes("cifar100") ? "cifar100" : entry.datasets[0];
}

/** `--extra KEY=NUMBER` values as a family options object. */
export function parseExtra(pairs: readonly string[]): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const kv of pairs) {
    const m = /^([A-Za-z_]\w*)=(.+)$/.exec(kv);
    if (!m || !Number.isFinite(Number(m[2])))
      throw new UsageError(`--extra takes KEY=NUMBER, got "${kv}"`);
    extra[m[1]] = Number(m[2]);
  }
  return extra;
}

export interface ArchChoice {
  entry: ArchEntry;
  split: number;
  dataset: DatasetKind;
  numClasses?: number;
  extra: Record<string, number>;
}

/**
 * Validates the model-choosing flags: S and the class count are positive integers, and the
 * registry accepts the architecture with that S and dataset (ArchError otherwise, a usage error).
 */
export function archFromFlags(v: {
  arch: string;
  split: string;
  dataset?: string;
  "num-classes"?: string;
  extra?: readonly string[];
}): ArchChoice {
  const split = intFlag("split", v.split);
  const numClasses =
    v["num-classes"] === undefined ? undefined : intFlag("num-classes", v["num-classes"]);
  const extra = parseExtra(v.extra ?? []);
  // The name first, so an unknown one is reported before a default dataset is derived from it.
  const dataset = v.dataset ?? defaultDataset(resolveArch(v.arch));
  const entry = resolveArch(v.arch, { split, dataset });
  return { entry, split, dataset: dataset as DatasetKind, numClasses, extra };
}
