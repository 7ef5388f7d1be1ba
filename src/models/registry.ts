// The architecture registry. Names are the official implementation's (`resnet110`,
// `wide_resnet28_10`, ...), so its users need no new vocabulary. Each family file registers
// its variants on import; `create` builds S independently initialised members with the
// family's division rule (REFERENCE.md §1–2) and wraps them as `Members` (state-dict keys
// `models.0.…`, `models.1.…`, as in the reference's SplitNet).
import type { Module } from "../nn/module.js";
import { DATASET_KINDS, NUM_CLASSES, type DatasetKind } from "../data/stats.js";
import { Members } from "./members.js";

export type { DatasetKind };

export interface BuildOptions {
  /** Number of members S; the family divides widths/groups/regularisers by it. */
  split: number;
  dataset: DatasetKind;
  numClasses: number;
  /** Input crop (ImageNet: 224 unless the architecture says otherwise; CIFAR/SVHN: 32). */
  crop: number;
  /** Family-specific overrides (e.g. dropout); each family documents what it reads. */
  extra: Record<string, unknown>;
}

export interface ArchInfo {
  name: string;
  family: string;
  /** The values of S the architecture allows. */
  splits: readonly number[];
  datasets: readonly DatasetKind[];
  /** Default input crop per dataset kind when it is not 32 (ImageNet). */
  defaultCrop?: number;
  description: string;
}

export interface ArchEntry extends ArchInfo {
  /** Builds ONE member network for options.split members (each member is a full network). */
  member(o: BuildOptions): Module;
}

const entries = new Map<string, ArchEntry>();

export function register(entry: ArchEntry): void {
  if (entries.has(entry.name)) throw new Error(`architecture "${entry.name}" is registered twice`);
  entries.set(entry.name, entry);
}

/** Every registered architecture (name, family, allowed S, datasets). */
export function list(): ArchInfo[] {
  return [...entries.values()]
    .map(({ member: _member, ...info }) => info)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** An architecture, S or dataset the registry does not allow: a usage error, not a model bug. */
export class ArchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchError";
  }
}

/**
 * The registry entry of an architecture, checked against the S and dataset it is asked for
 * (each only when given). Unknown names get the nearest registered names. Every caller that
 * accepts an architecture from a user validates through here, so the messages are the same
 * everywhere.
 */
export function resolveArch(name: string, o: { split?: number; dataset?: string } = {}): ArchEntry {
  const e = entries.get(name);
  if (!e) {
    const near = [...entries.keys()]
      .map((k) => [k, editDistance(name, k)] as const)
      .sort((a, b) => a[1] - b[1])
      .slice(0, 3)
      .map(([k]) => k);
    throw new ArchError(
      `unknown architecture "${name}"${near.length ? `; did you mean ${near.join(", ")}?` : ""} (divco summary --list shows all)`,
    );
  }
  if (o.split !== undefined && !e.splits.includes(o.split)) {
    throw new ArchError(
      `${name} cannot be divided into S=${o.split}; allowed: ${e.splits.join(", ")}`,
    );
  }
  if (o.dataset !== undefined && !DATASET_KINDS.includes(o.dataset as DatasetKind)) {
    throw new ArchError(`unknown dataset "${o.dataset}"; use ${DATASET_KINDS.join(", ")}`);
  }
  if (o.dataset !== undefined && !e.datasets.includes(o.dataset as DatasetKind)) {
    throw new ArchError(
      `${name} is not defined for ${o.dataset}; it is for ${e.datasets.join(", ")}`,
    );
  }
  return e;
}

/** The registry entry of an architecture; unknown names get the nearest registered names. */
export function lookup(name: string): ArchEntry {
  return resolveArch(name);
}

export interface CreateOptions {
  split: number;
  dataset: DatasetKind;
  numClasses?: number;
  crop?: number;
  extra?: Record<string, unknown>;
}

/** Builds the S members of an architecture. */
export function create(name: string, o: CreateOptions): Members {
  const e = resolveArch(name, { split: o.split, dataset: o.dataset });
  const opts: BuildOptions = {
    split: o.split,
    dataset: o.dataset,
    numClasses: o.numClasses ?? NUM_CLASSES[o.dataset],
    crop: o.crop ?? (o.dataset === "imagenet" ? (e.defaultCrop ?? 224) : 32),
    extra: o.extra ?? {},
  };
  const members = Array.from({ length: o.split }, () => e.member(opts));
  return new Members(name, opts, members);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...new Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return d[a.length][b.length];
}
