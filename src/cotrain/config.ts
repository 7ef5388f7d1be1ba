// The training configuration: every knob with its default, the reference's per-dataset and
// per-architecture recipe as an explicit preset, and validation. The run directory stores the
// fully resolved config — every effective value written out, nothing overridden silently.
//
// Validation is one table, CONFIG_SCHEMA: each key's type, range or allowed values, whether
// null is allowed. It is applied to every value wherever it comes from — flags and --config
// files (cli/config_flags.ts), a library caller's object, the preset, a resumed run's
// config.json (readConfigFile) — before anything is built or written, and each message names
// the key, where the value came from, the value and what is accepted (config_schema.ts).
// Rules that relate several keys (warm-up shorter than the run, amp, concurrency) follow.
import { readFileSync } from "node:fs";
import { DATASET_KINDS, type DatasetKind } from "../data/stats.js";
import type { LrMode } from "../optim/schedule.js";
import type { DecayGrouping } from "../optim/param_groups.js";
import { parseRandAugment } from "../data/transforms/randaugment.js";
import { ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
import { resolveArch } from "../models/registry.js";
import "../models/index.js"; // every family registered, so resolveArch knows every architecture
import type { CotLoss } from "./losses.js";
import {
  ConfigError,
  checkKnownKeys,
  checkValue,
  type KeySpec,
  type ValueOrigin,
} from "./config_schema.js";

export { ConfigError, type KeySpec, type ValueOrigin } from "./config_schema.js";

export interface TrainConfig {
  /** Architecture name from the registry (`divco summary --list`). */
  arch: string;
  /** Number of members S. */
  split: number;
  dataset: DatasetKind;
  /** Dataset directory; "sample" uses the embedded CIFAR-10 sample (offline demo, tests). */
  data: string;
  /** Evaluate on test records [0, evalLimit) only (0 = all). CIFAR-10's bit-exact records are 0–999. */
  evalLimit: number;
  /** Train on the first trainLimit records only (0 = all): quick experiments and tests. */
  trainLimit: number;
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  // optimisation (REFERENCE.md §6.1)
  optimizer: "SGD" | "AdamW" | "RMSprop";
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** Multiply weight decay by exp(1/S − 1) (the reference's Eq. (6), §2). */
  divideWeightDecay: boolean;
  decayGrouping: DecayGrouping;
  lrMode: LrMode;
  warmupEpochs: number;
  warmupStartLr: number;
  endLr: number;
  milestones: number[];
  /** Step mode: lr × lrStepMultiplier at each milestone (the reference's --lr_step_multiplier). */
  lrStepMultiplier: number;
  gradAccumulation: number;
  // data (REFERENCE.md §3.1, §6)
  autoaugment: boolean;
  randaugment: string | null;
  cutout: boolean;
  eraseP: number;
  /** Mixup Beta(α, α); 0 turns mixup off. One λ and permutation for all views (§3.1). */
  mixupAlpha: number;
  labelSmoothing: number;
  // co-training (REFERENCE.md §3.2)
  cotLoss: CotLoss | "none";
  cotWeight: number;
  cotWarmupEpochs: number;
  /** Ablation: every member sees the same view (the reference's --is_diff_data_train 0). */
  sameView: boolean;
  ensemble: EnsembleRule;
  /**
   * A training image file that cannot be decoded (image folders only): fail the run, or leave
   * the image out of its batch and count it per epoch. Evaluation images are all checked
   * before the first step and never skipped: the accuracy must cover the whole split.
   */
  onBadImage: "skip" | "fail";
  // runtime
  seed: number;
  workers: number;
  threads: number;
  /**
   * Run the members' forward/backward concurrently on worker threads, each with a share of
   * `threads` (cotrain/concurrent.ts); CPU, S ≥ 2, members without random draws in forward.
   */
  concurrentMembers: boolean;
  device: string;
  /**
   * Mixed precision (autocast + gradient scaling, on by default in the reference: REFERENCE.md
   * §6.1). It needs a CUDA device, and this build does not implement it there yet: only false is
   * accepted (fp32 training).
   */
  amp: boolean;
  memoryFormat: "channelsLast" | "contiguous";
  /** Keep the checkpoints of the last N epochs besides `last` and `best`. */
  keepLast: number;
  // distributed (divco launch: cotrain/distributed.ts; the computation equals one process's)
  /** Member i in its own process (× data-parallel replicas); only logits cross, for the co-training loss. */
  memberParallel: boolean;
  /** Data-parallel batch norm over the global batch, not each rank's shard (the reference's --sync_bn). */
  syncBn: boolean;
  /** Seconds the rendezvous or any collective may take before the run fails, naming the rank that stopped. */
  distTimeout: number;
  runDir: string;
}

export const DEFAULTS: Omit<TrainConfig, "arch" | "runDir"> = {
  split: 1,
  dataset: "cifar10",
  data: "",
  evalLimit: 0,
  trainLimit: 0,
  epochs: 300, // §6.2
  batchSize: 128, // §6.2
  evalBatchSize: 100, // §6.2
  optimizer: "SGD",
  lr: 0.1,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 1e-4,
  divideWeightDecay: true, // §2: the reference CLI default (its launcher script turns it off)
  decayGrouping: "reference",
  lrMode: "cos",
  warmupEpochs: 20, // §6.2, 300 epochs
  warmupStartLr: 5e-3,
  endLr: 1e-4,
  milestones: [100, 150],
  lrStepMultiplier: 0.1,
  gradAccumulation: 1,
  autoaugment: true,
  randaugment: null,
  cutout: true,
  eraseP: 0.5,
  mixupAlpha: 0.2,
  labelSmoothing: 0,
  cotLoss: "js_divergence",
  cotWeight: 0.5,
  cotWarmupEpochs: 40,
  sameView: false,
  ensemble: "mean_logits",
  onBadImage: "fail",
  seed: 0,
  workers: 1,
  threads: 0,
  concurrentMembers: false,
  device: "cpu",
  amp: false,
  memoryFormat: "contiguous",
  keepLast: 5,
  memberParallel: false,
  syncBn: false,
  distTimeout: 300, // c10d's own default is 30 minutes: far too long to notice a dead rank
};

/** Weight decay by architecture on CIFAR (REFERENCE.md §6.2). */
const CIFAR_WD_5E4 = new Set([
  "efficientnetb3",
  "resnext29_8x64d",
  "resnext29_16x64d",
  "wide_resnet16_12",
  "wide_resnet28_10",
  "wide_resnet40_10",
  "wide_resnet52_8",
]);

/**
 * The reference's recipe for (dataset, arch, epochs) as explicit values (REFERENCE.md §6):
 * weight decay per architecture, label smoothing (ImageNet on, CIFAR off), warm-up lengths,
 * co-training warm-up, end_lr. Returned values are a starting point the user's flags override;
 * the resolved config records the outcome.
 */
export function preset(dataset: DatasetKind, arch: string, epochs: number): Partial<TrainConfig> {
  const p: Partial<TrainConfig> = {};
  if (dataset === "cifar10" || dataset === "cifar100") {
    p.weightDecay = CIFAR_WD_5E4.has(arch) ? 5e-4 : 1e-4;
    p.labelSmoothing = 0;
    p.cotWarmupEpochs = epochs === 1800 ? 80 : 40;
    p.warmupEpochs =
      epochs === 300
        ? arch === "resnext29_16x64d" || arch === "se_resnet164"
          ? 30
          : 20
        : epochs >= 100
          ? 5
          : 0;
    if (arch === "resnext29_16x64d" && epochs === 300) p.lr = 0.05;
    p.endLr = 1e-4;
  } else if (dataset === "imagenet") {
    p.labelSmoothing = 0.1;
    p.cotWarmupEpochs = 60;
    p.warmupEpochs = 5;
    p.endLr = 1e-5;
    p.evalBatchSize = 100;
    p.weightDecay = arch === "resnet50" ? 5e-5 : 1e-4;
    p.batchSize = 256;
    p.divideWeightDecay = arch.startsWith("wide_resnet");
  } else if (dataset === "svhn") {
    Object.assign(p, {
      lr: 5e-3,
      weightDecay: 1e-3,
      warmupEpochs: 0,
      endLr: 1e-5,
      lrMode: "step",
      milestones: [80, 120],
    });
  }
  return p;
}

const LR_MODES: readonly LrMode[] = ["cos", "poly", "HTD", "step", "exponential"];
const DECAY_GROUPINGS: readonly DecayGrouping[] = ["reference", "no_norm_bias", "all"];
const COT_LOSSES: readonly (CotLoss | "none")[] = ["js_divergence", "kl_separate", "none"];

/** What each config key accepts (config_schema.ts checks values against it). */
export const CONFIG_SCHEMA: { readonly [K in keyof TrainConfig]-?: KeySpec } = {
  arch: { type: "string", nonEmpty: true, accepts: "an architecture name (divco summary --list)" },
  runDir: { type: "string", nonEmpty: true, accepts: "a directory" },
  split: { type: "integer", min: 1 },
  dataset: { type: "enum", values: DATASET_KINDS },
  data: { type: "string" },
  evalLimit: { type: "integer", min: 0 },
  trainLimit: { type: "integer", min: 0 },
  epochs: { type: "integer", min: 1 },
  batchSize: { type: "integer", min: 1 },
  evalBatchSize: { type: "integer", min: 1 },
  optimizer: { type: "enum", values: ["SGD", "AdamW", "RMSprop"] },
  lr: { type: "number", min: 0 },
  momentum: { type: "number", min: 0, max: 1, belowMax: true },
  nesterov: { type: "boolean" },
  weightDecay: { type: "number", min: 0 },
  divideWeightDecay: { type: "boolean" },
  decayGrouping: { type: "enum", values: DECAY_GROUPINGS },
  lrMode: { type: "enum", values: LR_MODES },
  warmupEpochs: { type: "number", min: 0 },
  warmupStartLr: { type: "number", min: 0 },
  endLr: { type: "number", min: 0 },
  milestones: { type: "integerList", min: 0, example: [100, 150] },
  lrStepMultiplier: { type: "number", min: 0 },
  gradAccumulation: { type: "integer", min: 1 },
  autoaugment: { type: "boolean" },
  randaugment: {
    type: "string",
    nullable: true,
    accepts: "a RandAugment policy such as rand-m9-mstd0.5",
    check: (v: string) => {
      try {
        parseRandAugment(v);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
  },
  cutout: { type: "boolean" },
  eraseP: { type: "number", min: 0, max: 1 },
  mixupAlpha: { type: "number", min: 0 },
  labelSmoothing: { type: "number", min: 0, max: 1, belowMax: true },
  cotLoss: { type: "enum", values: COT_LOSSES },
  cotWeight: { type: "number", min: 0 },
  cotWarmupEpochs: { type: "number", min: 0 },
  sameView: { type: "boolean" },
  ensemble: { type: "enum", values: ENSEMBLE_RULES },
  onBadImage: { type: "enum", values: ["skip", "fail"] },
  seed: { type: "integer", min: 0 },
  workers: { type: "integer", min: 0 },
  threads: { type: "integer", min: 0 },
  concurrentMembers: { type: "boolean" },
  memberParallel: { type: "boolean" },
  syncBn: { type: "boolean" },
  distTimeout: {
    type: "number",
    min: 0,
    check: (v: number) => (v > 0 ? undefined : "a collective needs a timeout above 0 seconds"),
  },
  device: { type: "string", pattern: /^(cpu|cuda(:\d+)?)$/, accepts: "cpu, cuda or cuda:N" },
  amp: { type: "boolean" },
  memoryFormat: { type: "enum", values: ["channelsLast", "contiguous"] },
  keepLast: { type: "integer", min: 0 },
};

/** Every config key, in CONFIG_SCHEMA order. */
export const CONFIG_KEYS = Object.keys(CONFIG_SCHEMA) as (keyof TrainConfig)[];

/** Where a key's value came from when the caller does not say: a key of the object given. */
const objectKey = (k: string): ValueOrigin => ({ kind: "json", where: `config key "${k}"` });

/**
 * Checks the keys of `values` (any subset of the config) against CONFIG_SCHEMA: unknown keys and
 * values of the wrong type or range are ConfigErrors naming `originOf(key)`, `source` the file.
 */
export function checkConfigValues(
  values: Record<string, unknown>,
  originOf: (key: string) => ValueOrigin = objectKey,
  source?: string,
): void {
  checkKnownKeys(Object.keys(values), CONFIG_KEYS, source);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    checkValue(CONFIG_SCHEMA[k as keyof TrainConfig], v, originOf(k));
  }
}

/**
 * Reads a JSON file of config keys (a --config file, or a run's config.json: `label` says which)
 * and checks every key and value, each message naming the file and the key.
 */
export function readConfigFile(path: string, label = "config file"): Partial<TrainConfig> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${label} ${path}: cannot read it (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${label} ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError(
      `${label} ${path}: expected a JSON object of config keys, got ${Array.isArray(parsed) ? "a list" : JSON.stringify(parsed)}`,
    );
  checkConfigValues(
    parsed as Record<string, unknown>,
    (k) => ({ kind: "json", where: `${label} ${path} key "${k}"` }),
    `${label} ${path}`,
  );
  return parsed as Partial<TrainConfig>;
}

/**
 * Defaults ← preset ← user values, checked: every user value against CONFIG_SCHEMA (each message
 * naming `originOf(key)`), then the architecture, S and dataset against the registry, then the
 * rules that relate keys. Throws ConfigError (or ArchError) before anything is built.
 */
export function resolveConfig(
  user: Partial<TrainConfig> & { arch: string; runDir: string },
  originOf: (key: string) => ValueOrigin = objectKey,
): TrainConfig {
  checkConfigValues(user, originOf);
  const dataset = user.dataset ?? DEFAULTS.dataset;
  const epochs = user.epochs ?? DEFAULTS.epochs;
  const fromPreset = preset(dataset, user.arch, epochs);
  // The preset's values are the project's own, checked all the same so a wrong one shows here.
  checkConfigValues(fromPreset, (k) => ({
    kind: "json",
    where: `the ${dataset} preset's "${k}"`,
  }));
  const cfg = { ...DEFAULTS, ...fromPreset, ...stripUndefined(user) } as TrainConfig;
  if (!cfg.arch)
    throw new ConfigError("arch is required (divco summary --list shows the architectures)");
  if (!cfg.runDir)
    throw new ConfigError("runDir is required (where the config, metrics and checkpoints go)");
  resolveArch(cfg.arch, { split: cfg.split, dataset: cfg.dataset });
  checkRelations(cfg);
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The rules that relate several keys (each key's own type and range are CONFIG_SCHEMA's). */
function checkRelations(c: TrainConfig): void {
  if (c.memberParallel && c.split < 2)
    throw new ConfigError(
      "memberParallel puts each of S ≥ 2 members in its own process; with split 1 train data-parallel (drop --member-parallel)",
    );
  if (c.memberParallel && c.concurrentMembers)
    throw new ConfigError(
      "memberParallel already runs each member in its own process; drop --concurrent-members",
    );
  if (c.warmupEpochs >= c.epochs && c.warmupEpochs > 0) {
    throw new ConfigError(
      `warmupEpochs (${c.warmupEpochs}) must be fewer than epochs (${c.epochs}); pass --warmup-epochs to shorten it`,
    );
  }
  if (c.amp) throw new ConfigError(ampRefusal(c.device));
  if (c.concurrentMembers && c.split < 2)
    throw new ConfigError(
      "concurrentMembers runs S ≥ 2 members side by side; with split 1 there is nothing to run concurrently (drop --concurrent-members)",
    );
  if (c.concurrentMembers && c.device !== "cpu")
    throw new ConfigError(
      "concurrentMembers is for CPU training; on CUDA the members already share the device (drop --concurrent-members)",
    );
  if (c.data === "sample" && c.dataset !== "cifar10")
    throw new ConfigError(`data "sample" is the embedded CIFAR-10 sample; dataset must be cifar10`);
  if (c.dataset === "imagenet" && (c.data === "" || c.data === "sample"))
    throw new ConfigError(
      "dataset imagenet reads an image folder: pass --data ROOT holding train/<class>/ and val/<class>/",
    );
  if (c.dataset === "imagenet" && (c.evalLimit > 0 || c.trainLimit > 0))
    throw new ConfigError(
      "evalLimit and trainLimit take the first records of CIFAR or SVHN; an ImageNet folder has no record order (use a smaller folder)",
    );
  if (c.randaugment !== null && c.dataset !== "imagenet")
    throw new ConfigError(
      `randaugment is part of the ImageNet pipeline only (REFERENCE.md §6.3); dataset is ${c.dataset}`,
    );
  if (c.randaugment !== null && c.autoaugment)
    throw new ConfigError(
      "randaugment replaces AutoAugment: pass --no-autoaugment with --randaugment (autoaugment: false)",
    );
  if (c.nesterov && c.optimizer === "SGD" && c.momentum <= 0)
    throw new ConfigError("nesterov needs momentum > 0 (or pass --no-nesterov)");
}

/**
 * Why amp (mixed precision, REFERENCE.md §6.1) is refused on `device`: autocast and gradient
 * scaling are CUDA features, and this build has not implemented them on CUDA yet either, so
 * neither message sends the user to a setting that would fail next.
 */
function ampRefusal(device: string): string {
  if (device === "cpu") {
    return "amp (mixed precision) needs a CUDA device: on CPU divco trains in fp32, and this build does not implement amp on CUDA yet either; train without --amp (amp: false)";
  }
  return `amp (mixed precision) on ${device}: this build does not implement autocast and gradient scaling yet; train in fp32 without --amp (amp: false)`;
}

/** Keys whose change does not alter the computation, so a resumed run may change them. */
export const RESUME_MUTABLE = new Set<keyof TrainConfig>([
  "epochs",
  "workers",
  "keepLast",
  "runDir",
  // Only decides what happens at an undecodable training image: a run stopped by one can be
  // resumed with "skip".
  "onBadImage",
  // how the same computation is spread over processes (a run may resume on another world size)
  "memberParallel",
  "distTimeout",
]);

/** The differences between a saved config and a requested one, as "key: saved → requested". */
export function configDiff(saved: TrainConfig, requested: TrainConfig): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(saved), ...Object.keys(requested)]) as Set<
    keyof TrainConfig
  >) {
    if (RESUME_MUTABLE.has(k)) continue;
    // A key newer than the saved config had its default value in that run.
    if (
      !(k in saved) &&
      k in DEFAULTS &&
      JSON.stringify(requested[k]) === JSON.stringify((DEFAULTS as Record<string, unknown>)[k])
    )
      continue;
    const a = JSON.stringify(saved[k]);
    const b = JSON.stringify(requested[k]);
    if (a !== b) out.push(`${k}: ${a} → ${b}`);
  }
  return out;
}
