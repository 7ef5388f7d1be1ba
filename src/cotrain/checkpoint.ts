// Run checkpoints: the model's and optimiser's tensors (plus RNG state) in one safetensors file,
// and a JSON file with the position (epoch, batch, step), best metric, optimiser hyper-parameters
// and the tensor file's SHA-256. Both are written atomically (temp + fsync + rename), tensors
// first: a crash or a full disk at any moment leaves the previous checkpoint whole, and a JSON
// never points at a tensor file it does not match.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../tensor/tensor.js";
import { defaultGeneratorState, setDefaultGeneratorState } from "../tensor/random.js";
import type { Module } from "../nn/module.js";
import type { Optimizer, OptimizerState } from "../optim/optimizer.js";
import { saveTensors, loadTensors } from "../io/tensors.js";
import { writeFileAtomicSync } from "../io/atomic.js";

export interface Position {
  /** The epoch to run next, and the batch of it to start from (mid-epoch after Ctrl-C). */
  epoch: number;
  batchIndex: number;
  /** Optimiser iterations done so far. */
  step: number;
}

export interface CheckpointMeta extends Position {
  format: "divco-checkpoint/1";
  arch: string;
  split: number;
  bestAcc1: number;
  bestEpoch: number;
  /** Metrics of the last evaluated epoch. */
  metrics: Record<string, number>;
  /** Running training statistics of an epoch interrupted part-way, so its averages stay whole. */
  partialEpoch?: Record<string, number | number[]>;
  optimizer: Omit<OptimizerState, "tensors">;
  tensorsSha256: string;
  savedAt: string;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export function checkpointPaths(dir: string, name: string): { tensors: string; meta: string } {
  return { tensors: join(dir, `${name}.safetensors`), meta: join(dir, `${name}.json`) };
}

export function saveCheckpoint(
  dir: string,
  name: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  meta: Omit<CheckpointMeta, "format" | "optimizer" | "tensorsSha256" | "savedAt">,
): void {
  const paths = checkpointPaths(dir, name);
  const opt = optimizer.stateDict();
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of model.stateDict()) tensors.set(`model.${k}`, t);
  for (const [k, t] of opt.tensors) tensors.set(`optim.${k}`, t);
  const rng = defaultGeneratorState();
  tensors.set("rng.default", rng);
  try {
    saveTensors(paths.tensors, tensors, { format: "divco-checkpoint/1", arch: meta.arch });
  } finally {
    rng.dispose();
  }
  const full: CheckpointMeta = {
    format: "divco-checkpoint/1",
    ...meta,
    optimizer: { kind: opt.kind, groups: opt.groups, scalars: opt.scalars },
    tensorsSha256: sha256(paths.tensors),
    savedAt: new Date().toISOString(),
  };
  writeFileAtomicSync(paths.meta, new TextEncoder().encode(JSON.stringify(full, null, 2) + "\n"));
}

export function readCheckpointMeta(dir: string, name: string): CheckpointMeta {
  const { meta } = checkpointPaths(dir, name);
  if (!existsSync(meta)) throw new Error(`no checkpoint "${name}" in ${dir} (${meta} is missing)`);
  let parsed: CheckpointMeta;
  try {
    parsed = JSON.parse(readFileSync(meta, "utf8")) as CheckpointMeta;
  } catch (e) {
    throw new Error(`checkpoint ${meta} is not valid JSON: ${(e as Error).message}`);
  }
  if (parsed.format !== "divco-checkpoint/1")
    throw new Error(`${meta} is not a divco checkpoint (format ${String(parsed.format)})`);
  return parsed;
}

/**
 * Restores model, optimiser and the default RNG from a checkpoint. Everything is read and
 * checked (hash, keys, shapes) before the model is touched; returns the metadata.
 */
export function loadCheckpoint(
  dir: string,
  name: string,
  model: Module,
  optimizer?: Optimizer<{ lr: number }>,
): CheckpointMeta {
  const meta = readCheckpointMeta(dir, name);
  const paths = checkpointPaths(dir, name);
  const hash = sha256(paths.tensors);
  if (hash !== meta.tensorsSha256) {
    throw new Error(
      `checkpoint ${paths.tensors} does not match ${paths.meta} (SHA-256 ${hash.slice(0, 12)}… vs ${meta.tensorsSha256.slice(0, 12)}…): the files come from different saves`,
    );
  }
  const { tensors } = loadTensors(paths.tensors);
  try {
    const modelState = new Map<string, Tensor>();
    const optTensors = new Map<string, Tensor>();
    for (const [k, t] of tensors) {
      if (k.startsWith("model.")) modelState.set(k.slice(6), t);
      else if (k.startsWith("optim.")) optTensors.set(k.slice(6), t);
    }
    model.loadStateDict(modelState);
    if (optimizer) optimizer.loadStateDict({ ...meta.optimizer, tensors: optTensors });
    const rng = tensors.get("rng.default");
    if (rng) setDefaultGeneratorState(rng);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return meta;
}

export function removeCheckpoint(dir: string, name: string): void {
  const p = checkpointPaths(dir, name);
  rmSync(p.meta, { force: true });
  rmSync(p.tensors, { force: true });
}
