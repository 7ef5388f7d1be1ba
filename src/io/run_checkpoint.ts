// Run checkpoints. Format 2 (written since the one-file commit): each checkpoint is ONE
// safetensors file, <name>.safetensors, holding the model's and optimiser's tensors and the RNG
// state, and in its header's __metadata__ everything else:
//   "format"             "divco-checkpoint/2"
//   "arch"               the architecture (also read by tools that only want the weights)
//   "divco.meta"         JSON of CheckpointMeta: position (epoch, batch, step), best metric, the
//                        last evaluation's metrics, an interrupted epoch's running sums, the
//                        optimiser's hyper-parameters, the run's resolved config, and dataSha256
//   "divco.meta.sha256"  SHA-256 of the "divco.meta" string (a damaged header is detected too)
// dataSha256 is the SHA-256 over the tensors in name order, each as "name\0dtype\0shape\0" then
// its bytes. The file is written atomically (temp + fsync + rename + directory fsync), so its
// rename commits the whole checkpoint at once: a crash or a full disk at any moment leaves the
// previous checkpoint whole, and there is no second file to disagree with it.
//
// <name>.json beside it is a readable copy of "divco.meta", written after the commit. divco never
// reads it for a format-2 checkpoint; a resumed run rewrites a missing or stale copy.
//
// Format 1 (earlier versions) kept the metadata, with the .safetensors file's SHA-256, only in
// <name>.json. It is still read (eval, resume) and never written: a resumed run continues in
// format 2, and its old best/epoch files stay readable until they are replaced.
//
// It lives in io because everything that reads a run's weights needs it — training's resume
// (cotrain), evaluation and the inference predictor (infer, via models/checkpoint.ts) — and it
// needs of a model and an optimiser only their state dicts (type-only imports).
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../tensor/tensor.js";
import { defaultGeneratorState, setDefaultGeneratorState } from "../tensor/random.js";
import type { Module } from "../nn/module.js";
import type { Optimizer, OptimizerState } from "../optim/optimizer.js";
import { recordToTensor, tensorToRecord } from "./tensors.js";
import type { TensorRecord } from "./record.js";
import {
  MAX_HEADER_SIZE,
  SafetensorsError,
  readSafetensors,
  saveSafetensorsSync,
} from "./safetensors.js";
import { writeFileAtomicSync, writeFileAtomicWithSync } from "./atomic.js";

export const CHECKPOINT_FORMAT = "divco-checkpoint/2";
/** The two-file format of earlier versions: read, never written. */
export const LEGACY_CHECKPOINT_FORMAT = "divco-checkpoint/1";

const META_KEY = "divco.meta";
const META_SHA_KEY = "divco.meta.sha256";

export interface Position {
  /** The epoch to run next, and the batch of it to start from (mid-epoch after Ctrl-C). */
  epoch: number;
  batchIndex: number;
  /** Optimiser iterations done so far. */
  step: number;
}

export interface CheckpointMeta extends Position {
  format: typeof CHECKPOINT_FORMAT | typeof LEGACY_CHECKPOINT_FORMAT;
  arch: string;
  split: number;
  bestAcc1: number;
  bestEpoch: number;
  /** Metrics of the last evaluated epoch (its metrics.jsonl row when saved at an epoch's end). */
  metrics: Record<string, number>;
  /** Running training statistics of an epoch interrupted part-way, so its averages stay whole. */
  partialEpoch?: Record<string, number | number[]>;
  optimizer: Omit<OptimizerState, "tensors">;
  /** Format 2: the run's resolved configuration when the checkpoint was saved (trainer runs). */
  config?: Record<string, unknown>;
  /** Format 2: SHA-256 of the tensors (see the file's header comment). */
  dataSha256?: string;
  /** Format 1: SHA-256 of the whole .safetensors file. */
  tensorsSha256?: string;
  savedAt: string;
}

/** What is wrong with a checkpoint that cannot be used. */
export type CheckpointProblem =
  | "missing"
  | "truncated"
  | "bad header"
  | "hash mismatch"
  | "metadata missing"
  | "different saves"
  | "not a checkpoint";

/** A checkpoint that is missing, damaged or not a divco checkpoint; the message names the file and what is wrong. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly problem: CheckpointProblem,
    detail: string,
  ) {
    super(`${file} ${detail}`);
    this.name = "CheckpointError";
  }
}

export function checkpointPaths(dir: string, name: string): { tensors: string; meta: string } {
  return { tensors: join(dir, `${name}.safetensors`), meta: join(dir, `${name}.json`) };
}

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** dataSha256 of a checkpoint's tensors. */
function tensorsDigest(records: Map<string, TensorRecord>): string {
  const h = createHash("sha256");
  for (const name of [...records.keys()].sort()) {
    const r = records.get(name)!;
    h.update(`${name}\0${r.dtype}\0${r.shape.join(",")}\0`);
    h.update(r.data);
  }
  return h.digest("hex");
}

/** The fields a caller gives; the rest (format, optimiser, digest, time) are filled in by saving. */
export type CheckpointFields = Omit<
  CheckpointMeta,
  "format" | "optimizer" | "dataSha256" | "tensorsSha256" | "savedAt"
>;

export interface SaveHooks {
  /** The temp file is complete and fsynced, not yet renamed into place. */
  written?(): void;
  /** The checkpoint file is in place; its .json copy not yet written. */
  renamed?(): void;
}

/**
 * Saves model, optimiser and the default RNG as checkpoint `name` in `dir` (one atomic file,
 * then its readable .json copy); returns the metadata written.
 */
export function saveCheckpoint(
  dir: string,
  name: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  fields: CheckpointFields,
  hooks: SaveHooks = {},
): CheckpointMeta {
  const paths = checkpointPaths(dir, name);
  const opt = optimizer.stateDict();
  const records = new Map<string, TensorRecord>();
  for (const [k, t] of model.stateDict()) records.set(`model.${k}`, tensorToRecord(t));
  for (const [k, t] of opt.tensors) records.set(`optim.${k}`, tensorToRecord(t));
  const rng = defaultGeneratorState();
  try {
    records.set("rng.default", tensorToRecord(rng));
  } finally {
    rng.dispose();
  }
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    ...fields,
    optimizer: { kind: opt.kind, groups: opt.groups, scalars: opt.scalars },
    dataSha256: tensorsDigest(records),
    savedAt: new Date().toISOString(),
  };
  if (meta.partialEpoch === undefined) delete meta.partialEpoch;
  if (meta.config === undefined) delete meta.config;
  const metaText = JSON.stringify(meta);
  saveSafetensorsSync(
    paths.tensors,
    records,
    {
      format: CHECKPOINT_FORMAT,
      arch: meta.arch,
      [META_KEY]: metaText,
      [META_SHA_KEY]: sha256(metaText),
    },
    { beforeRename: hooks.written },
  );
  hooks.renamed?.();
  writeSidecar(dir, name, meta);
  return meta;
}

/**
 * Copies checkpoint `from` to `to` byte for byte (temp + fsync + rename), then writes `to`'s
 * .json copy of `meta` (the metadata of `from`).
 */
export function copyCheckpoint(
  dir: string,
  from: string,
  to: string,
  meta: CheckpointMeta,
  hooks: SaveHooks = {},
): void {
  const src = checkpointPaths(dir, from).tensors;
  const fd = openSync(src, "r");
  try {
    writeFileAtomicWithSync(
      checkpointPaths(dir, to).tensors,
      (write) => {
        const buf = new Uint8Array(8 << 20);
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          write(buf.subarray(0, n));
        }
      },
      { beforeRename: hooks.written },
    );
  } finally {
    closeSync(fd);
  }
  hooks.renamed?.();
  writeSidecar(dir, to, meta);
}

/** Writes `<name>.json`, the readable copy of a format-2 checkpoint's metadata. */
export function writeSidecar(dir: string, name: string, meta: CheckpointMeta): void {
  writeFileAtomicSync(checkpointPaths(dir, name).meta, Buffer.from(sidecarText(meta)));
}

function sidecarText(meta: CheckpointMeta): string {
  return JSON.stringify(meta, null, 2) + "\n";
}

/** Whether `<name>.json` is missing or differs from a format-2 checkpoint's metadata. */
export function sidecarStale(dir: string, name: string, meta: CheckpointMeta): boolean {
  try {
    return readFileSync(checkpointPaths(dir, name).meta, "utf8") !== sidecarText(meta);
  } catch {
    return true;
  }
}

/**
 * Reads checkpoint `name` whole and checks it (structure, metadata, SHA-256); throws
 * CheckpointError naming what is wrong.
 */
export function readCheckpoint(
  dir: string,
  name: string,
): { meta: CheckpointMeta; tensors: Map<string, TensorRecord> } {
  const paths = checkpointPaths(dir, name);
  if (!existsSync(paths.tensors)) {
    throw new CheckpointError(
      paths.tensors,
      "missing",
      existsSync(paths.meta)
        ? `is missing (only its metadata file ${name}.json is there)`
        : `does not exist (no checkpoint "${name}" in ${dir})`,
    );
  }
  let contents: ReturnType<typeof readSafetensors>;
  try {
    contents = readSafetensors(paths.tensors);
  } catch (e) {
    if (e instanceof SafetensorsError) throw damage(paths.tensors, e);
    throw e;
  }
  const { tensors, metadata } = contents;
  if (metadata.format === LEGACY_CHECKPOINT_FORMAT) {
    return { meta: readLegacyMeta(dir, name), tensors };
  }
  if (metadata.format !== CHECKPOINT_FORMAT || typeof metadata[META_KEY] !== "string") {
    throw new CheckpointError(
      paths.tensors,
      "not a checkpoint",
      `is not a divco checkpoint (its header has format ${JSON.stringify(metadata.format ?? null)}); a weights file is evaluated with divco eval --weights`,
    );
  }
  const text = metadata[META_KEY];
  let meta: CheckpointMeta;
  try {
    if (sha256(text) !== metadata[META_SHA_KEY]) throw new Error("its SHA-256 does not match");
    meta = JSON.parse(text) as CheckpointMeta;
  } catch (e) {
    throw new CheckpointError(
      paths.tensors,
      "bad header",
      `has a damaged header: the checkpoint metadata is corrupt (${(e as Error).message})`,
    );
  }
  const digest = tensorsDigest(tensors);
  if (digest !== meta.dataSha256) {
    throw new CheckpointError(
      paths.tensors,
      "hash mismatch",
      `is corrupt: its tensors' SHA-256 is ${digest.slice(0, 12)}…, the header recorded ${String(meta.dataSha256).slice(0, 12)}… (the data changed on disk after it was written)`,
    );
  }
  return { meta, tensors };
}

/** The metadata of a format-1 checkpoint, checked against its .safetensors file. */
function readLegacyMeta(dir: string, name: string): CheckpointMeta {
  const paths = checkpointPaths(dir, name);
  if (!existsSync(paths.meta)) {
    throw new CheckpointError(
      paths.tensors,
      "metadata missing",
      `was written by an earlier divco (checkpoint format 1), whose metadata file ${name}.json is missing: it cannot be used`,
    );
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(paths.meta, "utf8")) as CheckpointMeta;
  } catch (e) {
    throw new CheckpointError(
      paths.meta,
      "bad header",
      `is not valid JSON (${(e as Error).message}): the metadata of this format-1 checkpoint is damaged`,
    );
  }
  if (meta.format !== LEGACY_CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      paths.meta,
      "different saves",
      `does not belong to ${name}.safetensors (format ${String(meta.format)} beside a format-1 tensor file)`,
    );
  }
  const hash = sha256(readFileSync(paths.tensors));
  if (hash !== meta.tensorsSha256) {
    throw new CheckpointError(
      paths.tensors,
      "different saves",
      `does not match ${name}.json (SHA-256 ${hash.slice(0, 12)}… vs ${String(meta.tensorsSha256).slice(0, 12)}…): the two files of this format-1 checkpoint come from different saves (an earlier divco was stopped between writing them), or the tensor file changed on disk since`,
    );
  }
  return meta;
}

/** A SafetensorsError as a checkpoint problem: cut short (with how much is there), or a damaged header. */
function damage(file: string, e: SafetensorsError): CheckpointError {
  const size = statSync(file).size;
  const expected = declaredSize(file, size);
  if (expected !== undefined && size < expected) {
    return new CheckpointError(
      file,
      "truncated",
      `is truncated: it has ${size} of its ${expected} bytes (a copy or write was cut short)`,
    );
  }
  const detail = e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message;
  return new CheckpointError(file, "bad header", `has a damaged header: ${detail}`);
}

/** The size a safetensors file's header says the file has, when the header can be read. */
function declaredSize(file: string, size: number): number | undefined {
  const fd = openSync(file, "r");
  try {
    const prefix = Buffer.alloc(8);
    if (readSync(fd, prefix, 0, 8, 0) < 8) return size < 8 ? 8 : undefined;
    const n = Number(prefix.readBigUInt64LE(0));
    if (n > MAX_HEADER_SIZE) return undefined;
    if (8 + n > size) return 8 + n;
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    const json = JSON.parse(header.toString("utf8")) as Record<
      string,
      { data_offsets?: [number, number] }
    >;
    let end = 0;
    for (const [k, v] of Object.entries(json))
      if (k !== "__metadata__" && Array.isArray(v?.data_offsets))
        end = Math.max(end, v.data_offsets[1]);
    return 8 + n + end;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The metadata of checkpoint `name` after reading and checking it whole. */
export function readCheckpointMeta(dir: string, name: string): CheckpointMeta {
  return readCheckpoint(dir, name).meta;
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
  const { meta, tensors: records } = readCheckpoint(dir, name);
  const tensors = new Map<string, Tensor>();
  for (const [k, r] of records) tensors.set(k, recordToTensor(r));
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

/**
 * Removes a checkpoint: its .json first, so that a crash in between leaves a whole (format 2)
 * or recognisably orphaned (format 1) .safetensors for the next prune, never a lone .json.
 */
export function removeCheckpoint(dir: string, name: string, between?: () => void): void {
  const p = checkpointPaths(dir, name);
  rmSync(p.meta, { force: true });
  between?.();
  rmSync(p.tensors, { force: true });
}
