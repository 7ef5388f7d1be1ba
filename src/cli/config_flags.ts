// Command-line flags for every TrainConfig key, derived from the config schema: `--batch-size 64`,
// `--no-nesterov`, `--milestones 100,150`. A `--config file.json` supplies keys in camelCase;
// flags given on the command line override it. This file only turns flag strings into candidate
// values; whether a value is accepted is decided by the one schema (CONFIG_SCHEMA in
// cotrain/config.ts), for flags and file keys alike, each message naming its flag or key.
// The one-line description of every key lives here, in the CLI layer; a key without one does
// not compile (CONFIG_TEXT is keyed by every TrainConfig key) and fails test/cli/config_flags.
import {
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  DEFAULTS,
  checkConfigValues,
  preset,
  readConfigFile,
  type TrainConfig,
  type ValueOrigin,
} from "../cotrain/config.js";
import type { FlagSpec } from "./args.js";

export const kebab = (k: string) => k.replace(/[A-Z]/g, (m) => "-" + m.toLowerCase());

export { CONFIG_KEYS };

/** The value name and one-line description of each config key (REFERENCE.md sections in brackets). */
export const CONFIG_TEXT: Record<keyof TrainConfig, { value?: string; description: string }> = {
  arch: { value: "NAME", description: "architecture (divco summary --list)" },
  runDir: {
    value: "DIR",
    description: "where the run is written; must not exist or be empty (unless --resume)",
  },
  split: {
    value: "S",
    description:
      "number of members S the network is divided into (allowed S: divco summary --list)",
  },
  dataset: {
    value: "NAME",
    description: "cifar10, cifar100, svhn or imagenet; selects the preset recipe and augmentation",
  },
  data: {
    value: "DIR",
    description:
      'dataset directory ("": $DIVCO_DATA or ~/.cache/divco/data; "sample": embedded CIFAR-10 sample)',
  },
  evalLimit: {
    value: "N",
    description:
      "evaluate on the first N test records only, 0 = all (CIFAR-10 records 0–999 are the bit-exact ones)",
  },
  trainLimit: {
    value: "N",
    description: "train on the first N training records only, 0 = all (quick experiments)",
  },
  epochs: { value: "N", description: "training epochs (the presets key on it, §6.1)" },
  batchSize: {
    value: "N",
    description: "training batch size; every member sees its own view of each image (§3.1)",
  },
  evalBatchSize: { value: "N", description: "evaluation batch size" },
  optimizer: { value: "NAME", description: "SGD, AdamW or RMSprop (§6.1)" },
  lr: { value: "LR", description: "peak learning rate, reached at the end of the warm-up (§6.1)" },
  momentum: { value: "M", description: "momentum of SGD and RMSprop" },
  nesterov: { description: "Nesterov momentum for SGD (the reference's --is_nesterov 1)" },
  weightDecay: {
    value: "WD",
    description: "weight decay before the Eq. (6) division (presets set it per arch, §6.2–6.4)",
  },
  divideWeightDecay: { description: "multiply the weight decay by exp(1/S − 1), Eq. (6) (§2)" },
  decayGrouping: {
    value: "RULE",
    description:
      "parameters with weight decay: reference (names without bias/norm), no_norm_bias or all (§6.1)",
  },
  lrMode: {
    value: "MODE",
    description:
      "learning-rate schedule after the warm-up, per iteration: cos, poly, HTD, step or exponential (§6.1)",
  },
  warmupEpochs: {
    value: "N",
    description: "epochs of linear learning-rate warm-up from --warmup-start-lr to --lr (§6.1)",
  },
  warmupStartLr: {
    value: "LR",
    description: "learning rate at the start of the warm-up (the reference's slow_start_lr)",
  },
  endLr: {
    value: "LR",
    description: "lowest learning rate: the schedule is clamped to at least this (§6.1)",
  },
  milestones: {
    value: "E,E,...",
    description:
      "step schedule: epochs at which the learning rate is multiplied by --lr-step-multiplier",
  },
  lrStepMultiplier: {
    value: "F",
    description: "step schedule: the factor applied at each milestone",
  },
  gradAccumulation: {
    value: "N",
    description:
      "batches per optimiser step; the loss is divided by N (the reference's iters_to_accumulate)",
  },
  autoaugment: {
    description:
      "AutoAugment on the training views of CIFAR-100 and ImageNet (always on for CIFAR-10 and SVHN, §6.2)",
  },
  randaugment: {
    value: "SPEC",
    description:
      'ImageNet: RandAugment policy such as rand-m9-mstd0.5 instead of AutoAugment (with --no-autoaugment; "none" = off)',
  },
  cutout: {
    description:
      "random erasing as cutout on the training views of CIFAR-100 and ImageNet (always on for CIFAR-10 and SVHN)",
  },
  eraseP: { value: "P", description: "probability of the random-erasing cutout (§6.2)" },
  mixupAlpha: {
    value: "A",
    description: "mixup λ ~ Beta(A, A), one λ and permutation shared by all views; 0 = off (§3.1)",
  },
  labelSmoothing: {
    value: "E",
    description: "label-smoothing ε (presets: 0.1 on ImageNet, 0 on CIFAR, §6.2–6.3)",
  },
  cotLoss: {
    value: "NAME",
    description:
      "co-training loss: js_divergence, kl_separate (detached pairwise KL) or none (§3.2)",
  },
  cotWeight: {
    value: "W",
    description: "weight λ_cot of the co-training loss after its warm-up (§3.2)",
  },
  cotWarmupEpochs: {
    value: "N",
    description:
      "co-training weight warm-up: w = max(λ_cot·epoch/N, 0.005) during the first N epochs (§3.2)",
  },
  sameView: {
    description:
      "ablation: every member sees the same augmented view (the reference's --is_diff_data_train 0)",
  },
  ensemble: {
    value: "RULE",
    description:
      "how evaluation combines the members: mean_logits, mean_probs, max or geometric (§4)",
  },
  onBadImage: {
    value: "MODE",
    description:
      "ImageNet folders: at a training image that cannot be decoded, fail, or skip it (counted per epoch in the metrics). Evaluation images are all decoded before the first step and never skipped (the accuracy covers the whole split); CIFAR/SVHN records cannot be bad",
  },
  seed: {
    value: "N",
    description:
      "seed of initialisation, augmentation and shuffling (a run is deterministic given it)",
  },
  workers: {
    value: "N",
    description: "data-loading worker threads, 0 = main thread (any count gives the same batches)",
  },
  threads: { value: "N", description: "intra-op CPU threads, 0 = all cores" },
  concurrentMembers: {
    description:
      "run the members' forward/backward concurrently on worker threads sharing --threads (CPU, S ≥ 2)",
  },
  device: { value: "DEV", description: "cpu or cuda[:N]" },
  amp: {
    description:
      "mixed precision (autocast + gradient scaling); CUDA only, not implemented in this build yet",
  },
  memoryFormat: {
    value: "FMT",
    description: "memory format of activations and conv weights: contiguous or channelsLast",
  },
  keepLast: {
    value: "N",
    description: "keep the checkpoints of the last N epochs besides last and best, 0 = none",
  },
  memberParallel: {
    description:
      "distributed: member i in its own process (WORLD_SIZE = S × replicas); only logits cross",
  },
  syncBn: {
    description:
      "distributed data-parallel: batch-norm statistics over the global batch (no effect in one process)",
  },
  distTimeout: {
    value: "SEC",
    description:
      "distributed: seconds the rendezvous or a collective may take before the run fails",
  },
};

/** Keys some preset (REFERENCE.md §6) may set, so their listed default can be replaced. */
function presetKeys(): Set<string> {
  const keys = new Set<string>();
  for (const [dataset, arch, epochs] of [
    ["cifar10", "resnext29_16x64d", 300],
    ["cifar100", "wide_resnet28_10", 1800],
    ["imagenet", "wide_resnet50_2", 120],
    ["svhn", "resnet110", 160],
  ] as const) {
    for (const k of Object.keys(preset(dataset, arch, epochs))) keys.add(k);
  }
  return keys;
}

/** A default as it would be typed on the command line. */
function showDefault(v: unknown): string {
  if (v === null) return "none";
  if (Array.isArray(v)) return v.join(",");
  if (v === "") return '""';
  return String(v);
}

/** The flags of every config key, in TrainConfig order after --arch and --run-dir; `*` marks preset-replaced defaults. */
export function configFlags(): Record<string, FlagSpec> {
  const fromPreset = presetKeys();
  const flags: Record<string, FlagSpec> = {};
  for (const k of [
    "arch",
    "runDir",
    ...CONFIG_KEYS.filter((k) => k !== "arch" && k !== "runDir"),
  ] as (keyof TrainConfig)[]) {
    const { value, description } = CONFIG_TEXT[k];
    const d = (DEFAULTS as Record<string, unknown>)[k];
    const defaultText =
      k in DEFAULTS ? showDefault(d) + (fromPreset.has(k) ? " *" : "") : undefined;
    flags[kebab(k)] =
      CONFIG_SCHEMA[k].type === "boolean"
        ? { type: "boolean", negatable: true, description, defaultText }
        : { type: "string", value: value ?? "V", description, defaultText };
  }
  return flags;
}

/**
 * The candidate value of a flag's text: a number for numeric keys, a list for list keys, null
 * for "none" where null is allowed. Text that does not parse stays text, for the schema to
 * refuse with the flag's name.
 */
function parseFlag(k: keyof TrainConfig, raw: string): unknown {
  const spec = CONFIG_SCHEMA[k];
  const number = (t: string) => (t.trim() !== "" && Number.isFinite(Number(t)) ? Number(t) : t);
  if (spec.nullable && (raw === "" || raw === "none")) return null;
  switch (spec.type) {
    case "integer":
    case "number":
      return number(raw);
    case "integerList": {
      if (raw === "") return [];
      const parts = raw.split(",").map(number);
      return parts.every((p) => typeof p === "number") ? parts : raw;
    }
    default:
      return raw;
  }
}

/**
 * Reads --config (if any) and the config flags into a partial TrainConfig, every value checked
 * against the config schema (messages name the flag, or the file and key).
 */
export function configFromArgs(
  values: Record<string, string | boolean | string[] | undefined>,
): Partial<TrainConfig> {
  const file = typeof values.config === "string" ? values.config : undefined;
  const out: Record<string, unknown> = file ? { ...readConfigFile(file) } : {};
  const fromFlags: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    const v = values[kebab(k)];
    if (typeof v === "boolean") fromFlags[k] = v;
    else if (typeof v === "string") fromFlags[k] = parseFlag(k, v);
  }
  checkConfigValues(fromFlags, (k): ValueOrigin => ({ kind: "flag", flag: `--${kebab(k)}` }));
  return { ...out, ...fromFlags } as Partial<TrainConfig>;
}
