// Weights in and out of divided models: read a safetensors file or a PyTorch checkpoint
// (the reference's `model_best.pth.tar`: {'state_dict': {'module.models.0.…'}}), check it
// against the members (member count, classifier size, every key and shape) and load it
// strictly — a checkpoint that does not fit is refused before anything is written.
import * as fs from "node:fs";
import { join } from "node:path";
import { readSafetensors } from "../io/safetensors.js";
import { checkpointPaths, readCheckpoint } from "../io/run_checkpoint.js";
import { extractStateDict, loadPth, pyToJSON } from "../io/pth.js";
import type { TensorRecord } from "../io/record.js";
import { recordToTensor } from "../io/tensors.js";
import { Linear } from "../nn/layers/linear.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Members } from "./members.js";
import { DATASET_KINDS, type DatasetKind } from "../data/stats.js";

export interface WeightsFile {
  tensors: Map<string, TensorRecord>;
  format: "safetensors" | "pytorch";
  /** Non-tensor entries: safetensors metadata, or the checkpoint's epoch/arch/best_acc1/... */
  info: Record<string, unknown>;
}

function isSafetensors(path: string): boolean {
  if (path.endsWith(".safetensors")) return true;
  // Otherwise sniff: a safetensors file starts with an 8-byte little-endian header length
  // followed by "{"; torch.save files start with "PK" (zip) or 0x80 (pickle).
  const fd = fs.openSync(path, "r");
  try {
    const head = Buffer.alloc(9);
    const n = fs.readSync(fd, head, 0, 9, 0);
    return n === 9 && head[8] === 0x7b && head.readBigUInt64LE(0) < 100_000_000n;
  } finally {
    fs.closeSync(fd);
  }
}

/** Files in a directory that look like weights, for the message when a directory is given. */
const WEIGHTS_FILE = /\.(pth|pth\.tar|pt|tar|ckpt|bin|safetensors)$/;

function directoryMessage(dir: string): string {
  let found: string[] = [];
  try {
    found = fs.readdirSync(dir).filter((f) => WEIGHTS_FILE.test(f));
  } catch {
    // An unreadable directory: the message without suggestions still says what to give.
  }
  const hint = found.length
    ? `; it holds ${found
        .slice(0, 5)
        .map((f) => `${dir.replace(/\/$/, "")}/${f}`)
        .join(", ")}${found.length > 5 ? ", …" : ""}`
    : "";
  return `${dir} is a directory; give the weights file itself (a torch.save checkpoint such as model_best.pth.tar, or a .safetensors file)${hint}`;
}

/** Reads the tensors of a safetensors file or a PyTorch checkpoint (`module.` stripped). */
/**
 * The model's tensors of a divco run checkpoint (keys `model.models.0.…`, beside `optim.…` and
 * `rng.…`) with the `model.` prefix stripped; any other state dict unchanged.
 */
export function modelTensors(tensors: Map<string, TensorRecord>): Map<string, TensorRecord> {
  const keys = [...tensors.keys()];
  const isRunCheckpoint =
    keys.some((k) => k.startsWith("model.")) &&
    keys.every((k) => k.startsWith("model.") || k.startsWith("optim.") || k.startsWith("rng."));
  if (!isRunCheckpoint) return tensors;
  return new Map(
    [...tensors].filter(([k]) => k.startsWith("model.")).map(([k, v]) => [k.slice(6), v]),
  );
}

/**
 * Reads the tensors of a safetensors file (divco import's, or a run checkpoint's: its model
 * part) or a PyTorch checkpoint (`module.` stripped).
 */
export function readWeights(path: string): WeightsFile {
  if (!fs.existsSync(path)) throw new Error(`${path}: no such file`);
  if (fs.statSync(path).isDirectory()) throw new Error(directoryMessage(path));
  if (isSafetensors(path)) {
    const { tensors, metadata } = readSafetensors(path);
    return { tensors: modelTensors(tensors), format: "safetensors", info: { ...metadata } };
  }
  const sd = extractStateDict(loadPth(path), path);
  const info: Record<string, unknown> = {};
  for (const [k, v] of sd.others) {
    if (k === "optimizer" || k.startsWith("optimizer.")) continue;
    const j = pyToJSON(v);
    if (j === null || ["string", "number", "boolean"].includes(typeof j)) info[k] = j;
  }
  return { tensors: sd.tensors, format: "pytorch", info };
}

/**
 * The state as the members expect it: a single network's state dict (no `models.` prefix)
 * is accepted for S=1 as member 0.
 */
export function memberKeys(
  tensors: Map<string, TensorRecord>,
  split: number,
): Map<string, TensorRecord> {
  const keys = [...tensors.keys()];
  if (split === 1 && keys.length > 0 && !keys.some((k) => k.startsWith("models."))) {
    return new Map([...tensors].map(([k, v]) => [`models.0.${k}`, v]));
  }
  return tensors;
}

/**
 * Checks `tensors` against `members` and loads them (strict: every key, every shape). Member
 * count and classifier size get their own messages because they are the usual mistakes
 * (wrong --split, wrong --dataset / --num-classes). Nothing is written unless all fits.
 */
export function loadMembers(
  members: Members,
  given: Map<string, TensorRecord>,
  source = "checkpoint",
): void {
  const tensors = memberKeys(given, members.split);
  const indices = new Set<number>();
  for (const k of tensors.keys()) {
    const m = /^models\.(\d+)\./.exec(k);
    if (m) indices.add(Number(m[1]));
  }
  if (indices.size > 0 && indices.size !== members.split) {
    throw new Error(
      `${source} holds ${indices.size} member network(s) (models.0–${Math.max(...indices)}) but ${members.arch} was built with S=${members.split}; pass --split ${indices.size}`,
    );
  }
  // The classifier: the last Linear of member 0.
  const linears = [...members.models.items[0].namedModules()].filter(
    ([, m]) => m instanceof Linear,
  ) as [string, Linear][];
  const last = linears[linears.length - 1];
  if (last) {
    const key = `models.0.${last[0]}.weight`;
    const rec = tensors.get(key);
    if (rec && rec.shape.length === 2 && rec.shape[0] !== last[1].outFeatures) {
      throw new Error(
        `${source}: the classifier ${key} has ${rec.shape[0]} outputs but ${members.arch} was built for ${last[1].outFeatures} classes (${members.options.dataset}); ` +
          `use the dataset the checkpoint was trained on or pass --num-classes ${rec.shape[0]}`,
      );
    }
  }
  const state = new Map<string, Tensor>();
  try {
    for (const [k, r] of tensors) state.set(k, recordToTensor(r));
    members.loadStateDict(state, { strict: true });
  } finally {
    for (const t of state.values()) t.dispose();
  }
}

/** What a run directory's config.json says about its model (the rest is the trainer's). */
export interface RunModel {
  arch: string;
  split: number;
  dataset: DatasetKind;
  /** The run's ensemble rule (REFERENCE.md §4). */
  ensemble?: string;
  /** The run's dataset directory ("sample" for the embedded CIFAR-10 sample). */
  data?: string;
}

export interface RunCheckpoint {
  model: RunModel;
  /** The checkpoint's model tensors, keys `models.{i}.…`. */
  tensors: Map<string, TensorRecord>;
  /** The checkpoint's metadata (epoch, bestAcc1, metrics, …). */
  info: Record<string, unknown>;
}

/** The model of a run directory (`divco train`'s config.json). */
export function readRunModel(runDir: string): RunModel {
  const cfgPath = join(runDir, "config.json");
  if (!fs.existsSync(cfgPath))
    throw new Error(`${runDir} is not a divco run directory (no config.json)`);
  let cfg: Partial<RunModel>;
  try {
    cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8")) as Partial<RunModel>;
  } catch (e) {
    throw new Error(`${cfgPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (
    typeof cfg.arch !== "string" ||
    !Number.isInteger(cfg.split) ||
    !DATASET_KINDS.includes(cfg.dataset as DatasetKind)
  )
    throw new Error(`${cfgPath} does not name an arch, split and dataset`);
  return cfg as RunModel;
}

/**
 * The model state of a run's checkpoint `which` (best, last or epoch-NNNN): its model part, read
 * and checked whole by io/run_checkpoint.ts (either checkpoint format; a damaged file is named
 * with what is wrong), with the run's arch, split and dataset.
 */
export function readRunCheckpoint(runDir: string, which = "best"): RunCheckpoint {
  const model = readRunModel(runDir);
  const dir = join(runDir, "checkpoints");
  if (!fs.existsSync(checkpointPaths(dir, which).tensors)) {
    const have = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(".safetensors"))
          .map((f) => f.slice(0, -".safetensors".length))
      : [];
    throw new Error(
      `${runDir} has no checkpoint "${which}" (${have.length ? `it has ${have.join(", ")}` : "no checkpoints yet"})`,
    );
  }
  const { meta, tensors } = readCheckpoint(dir, which);
  const info = Object.fromEntries(
    Object.entries(meta).filter(([k]) => k !== "optimizer" && k !== "config"),
  );
  return { model, tensors: modelTensors(tensors), info };
}
