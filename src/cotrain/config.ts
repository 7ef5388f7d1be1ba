// The training configuration: every knob with its default, the reference's per-dataset and
// per-architecture recipe as an explicit preset, and validation. The run directory stores the
// fully resolved config — every effective value written out, nothing overridden silently.
import type { DatasetKind } from "../models/registry.js";
import type { LrMode } from "../optim/schedule.js";
import type { DecayGrouping } from "../optim/param_groups.js";
import { ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
import type { CotLoss } from "./losses.js";

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

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const KEYS = new Set<string>([...Object.keys(DEFAULTS), "arch", "runDir"]);

/** Defaults ← preset ← user values. Unknown keys and bad values are errors naming them. */
export function resolveConfig(
  user: Partial<TrainConfig> & { arch: string; runDir: string },
): TrainConfig {
  const unknown = Object.keys(user).filter((k) => !KEYS.has(k));
  if (unknown.length)
    throw new ConfigError(
      `unknown config key${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`,
    );
  const dataset = user.dataset ?? DEFAULTS.dataset;
  const epochs = user.epochs ?? DEFAULTS.epochs;
  const cfg = {
    ...DEFAULTS,
    ...preset(dataset, user.arch, epochs),
    ...stripUndefined(user),
  } as TrainConfig;
  validate(cfg);
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validate(c: TrainConfig): void {
  const posInt = (k: keyof TrainConfig) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1)
      throw new ConfigError(`${k} must be a positive integer, got ${v}`);
  };
  const nonNeg = (k: keyof TrainConfig) => {
    const v = c[k] as number;
    if (!(typeof v === "number" && v >= 0 && Number.isFinite(v)))
      throw new ConfigError(`${k} must be a number ≥ 0, got ${v}`);
  };
  const oneOf = (k: keyof TrainConfig, allowed: readonly unknown[]) => {
    if (!allowed.includes(c[k]))
      throw new ConfigError(`${k} must be one of ${allowed.join(", ")}, got ${String(c[k])}`);
  };
  for (const k of ["split", "epochs", "batchSize", "evalBatchSize", "gradAccumulation"] as const)
    posInt(k);
  if (!(c.distTimeout > 0 && Number.isFinite(c.distTimeout)))
    throw new ConfigError(`distTimeout must be a number of seconds > 0, got ${c.distTimeout}`);
  if (c.memberParallel && c.split < 2)
    throw new ConfigError(
      "memberParallel puts each of S ≥ 2 members in its own process; with split 1 train data-parallel (drop --member-parallel)",
    );
  if (c.memberParallel && c.concurrentMembers)
    throw new ConfigError(
      "memberParallel already runs each member in its own process; drop --concurrent-members",
    );
  for (const k of [
    "lr",
    "momentum",
    "weightDecay",
    "warmupEpochs",
    "warmupStartLr",
    "endLr",
    "eraseP",
    "mixupAlpha",
    "labelSmoothing",
    "cotWeight",
    "cotWarmupEpochs",
    "seed",
    "workers",
    "threads",
    "keepLast",
    "evalLimit",
    "trainLimit",
    "lrStepMultiplier",
  ] as const)
    nonNeg(k);
  oneOf("dataset", ["cifar10", "cifar100", "svhn", "imagenet"]);
  oneOf("optimizer", ["SGD", "AdamW", "RMSprop"]);
  oneOf("decayGrouping", ["reference", "no_norm_bias", "all"]);
  oneOf("lrMode", ["cos", "poly", "HTD", "step", "exponential"]);
  oneOf("cotLoss", ["js_divergence", "kl_separate", "none"]);
  oneOf("ensemble", ENSEMBLE_RULES);
  oneOf("memoryFormat", ["channelsLast", "contiguous"]);
  if (c.labelSmoothing >= 1)
    throw new ConfigError(`labelSmoothing must be below 1, got ${c.labelSmoothing}`);
  if (c.eraseP > 1) throw new ConfigError(`eraseP is a probability, got ${c.eraseP}`);
  if (c.warmupEpochs >= c.epochs && c.warmupEpochs > 0) {
    throw new ConfigError(
      `warmupEpochs (${c.warmupEpochs}) must be fewer than epochs (${c.epochs}); pass --warmup-epochs to shorten it`,
    );
  }
  if (c.device !== "cpu" && !/^cuda(:\d+)?$/.test(c.device))
    throw new ConfigError(`device must be cpu or cuda[:N], got ${c.device}`);
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
  if (c.nesterov && c.optimizer === "SGD" && c.momentum <= 0)
    throw new ConfigError("nesterov needs momentum > 0 (or pass --no-nesterov)");
  if (!c.runDir)
    throw new ConfigError("runDir is required (where the config, metrics and checkpoints go)");
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
