// The flags shared by the commands that run the ensemble predictor (predict, infer, eval):
// where the model comes from (--run DIR [--checkpoint NAME], or --weights W with the
// architecture flags) and how it runs (--mode, --threads).
import { availableParallelism } from "node:os";
import { intFlag, UsageError, type StringFlag } from "./args.js";
import { archFromFlags } from "./arch_flags.js";
import type { ModelSource } from "../infer/predictor.js";
import { MODE_CHOICES, type ModeChoice } from "../infer/engines.js";

export const MODE_FLAG = {
  type: "string",
  value: "MODE",
  default: "sequential",
  description: `how the members run: ${MODE_CHOICES.join(", ")} (auto measures and picks; see README "Fast inference")`,
} as const satisfies StringFlag;

export const THREADS_FLAG = {
  type: "string",
  value: "N",
  defaultText: "all cores",
  description: "intra-op CPU threads in all (concurrent mode divides them among members)",
} as const satisfies StringFlag;

export const RUN_FLAG = {
  type: "string",
  value: "DIR",
  description: "a run directory of divco train (model, dataset and ensemble rule from its config)",
} as const satisfies StringFlag;

export const CHECKPOINT_FLAG = {
  type: "string",
  value: "NAME",
  default: "best",
  description: "which checkpoint of --run: best, last or epoch-NNNN",
} as const satisfies StringFlag;

/** A weights file and the model it holds: the other way to name a model than --run. */
export const WEIGHTS_MODEL_FLAGS = {
  weights: {
    type: "string",
    value: "W",
    description:
      "a weights file instead of a run: safetensors (divco import, or a run's checkpoints/NAME.safetensors) or a PyTorch checkpoint",
  },
  arch: {
    type: "string",
    value: "NAME",
    description: "architecture of --weights (divco summary --list)",
  },
  split: { type: "string", value: "S", description: "number of members of --weights" },
  dataset: {
    type: "string",
    value: "D",
    description: "dataset of --weights: cifar10, cifar100, svhn or imagenet",
  },
} as const satisfies Record<string, StringFlag>;

/** --mode as a mode choice (a usage error names the choices). */
export function modeFromFlag(raw: string): ModeChoice {
  if (!(MODE_CHOICES as readonly string[]).includes(raw))
    throw new UsageError(`--mode must be one of ${MODE_CHOICES.join(", ")}, got "${raw}"`);
  return raw as ModeChoice;
}

export function threadsFromFlag(raw: string | undefined): number {
  return raw === undefined ? availableParallelism() : intFlag("threads", raw);
}

/**
 * The model source from --run/--checkpoint or --weights + --arch/--split/--dataset (+ the
 * architecture flags' --num-classes, --extra). Exactly one of --run and --weights.
 */
export function modelSourceFromFlags(v: {
  run?: string;
  checkpoint: string;
  weights?: string;
  arch?: string;
  split?: string;
  dataset?: string;
  "num-classes"?: string;
  extra?: readonly string[];
}): ModelSource {
  if (v.run !== undefined) {
    const given = (["weights", "arch", "split", "dataset", "num-classes"] as const).filter(
      (k) => v[k] !== undefined,
    );
    if (given.length)
      throw new UsageError(
        `--run takes the model from the run; drop ${given.map((k) => `--${k}`).join(", ")}`,
      );
    return { run: v.run, checkpoint: v.checkpoint };
  }
  if (v.weights === undefined || v.arch === undefined || v.split === undefined)
    throw new UsageError("give --run DIR, or --weights W with --arch and --split (and --dataset)");
  const a = archFromFlags({ ...v, arch: v.arch, split: v.split });
  return {
    weights: v.weights,
    arch: a.entry.name,
    split: a.split,
    dataset: a.dataset,
    numClasses: a.numClasses,
    extra: a.extra,
  };
}
