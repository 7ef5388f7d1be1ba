// `divco eval`: evaluate a run's checkpoint (or a weights file) on a dataset split: ensemble
// top-1/top-5 and every member's top-1, with a selectable ensemble rule, the members run by the
// ensemble predictor in any execution mode (src/infer), and the time per image as the
// reference's test.py reports it (wall time over the evaluation loop / images, REFERENCE.md §5).
// Exit codes: 0 ok, 1 unreadable checkpoint, weights or data, 2 usage error.
// It only reads a run directory (checkpoints of format 2 and the two-file format 1), so it needs
// no lock: each checkpoint is one atomically renamed file, never seen half-written.
import { join } from "node:path";
import { existsSync } from "node:fs";
import {
  defineCommand,
  intFlag,
  runCommand,
  stdio,
  UsageError,
  type Out,
  type ValuesOf,
} from "./args.js";
import { create, resolveArch, ArchError, type DatasetKind } from "../models/registry.js";
import { loadCheckpoint, CheckpointError } from "../io/run_checkpoint.js";
import { surveyCheckpoints, describePosition } from "../cotrain/resume.js";
import { evaluate } from "../cotrain/evaluate.js";
import { openDatasets } from "../cotrain/datasets.js";
import { MultiViewLoader } from "../data/loader.js";
import { presetAugmentation } from "../data/transforms/pipeline.js";
import { loadTensors } from "../io/tensors.js";
import { ConfigError, readConfigFile, type TrainConfig } from "../cotrain/config.js";
import { ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
import { Ensemble } from "../infer/predictor.js";
import {
  MODE_FLAG,
  THREADS_FLAG,
  WEIGHTS_MODEL_FLAGS,
  modeFromFlag,
  threadsFromFlag,
} from "./infer_flags.js";
import "../models/index.js";

export const EVAL = defineCommand({
  name: "eval",
  summary: "evaluate a run's checkpoint or a weights file (ensemble and members)",
  usage: [
    "--run DIR [--checkpoint best|last|epoch-NNNN] [options]",
    "--weights W.safetensors --arch NAME --split S --dataset D --data DIR [options]",
  ],
  description:
    "Evaluates the ensemble (top-1, top-5) and every member (top-1) on a split of the dataset.",
  flags: {
    run: {
      type: "string",
      value: "DIR",
      description: "a run directory of divco train (model, dataset and data from its config)",
    },
    checkpoint: {
      type: "string",
      value: "NAME",
      default: "best",
      description: "which checkpoint of --run: best, last or epoch-NNNN",
    },
    ...WEIGHTS_MODEL_FLAGS,
    data: {
      type: "string",
      value: "DIR",
      defaultText: "the run's",
      description: 'dataset directory, or "sample" for the embedded CIFAR-10 sample',
    },
    on: {
      type: "string",
      value: "SPLIT",
      default: "test",
      description: "which split of the dataset: test or train",
    },
    "eval-limit": {
      type: "string",
      value: "N",
      default: "0",
      description:
        "only the first N records, 0 = all (CIFAR-10 test records 0–999 are the bit-exact ones)",
    },
    ensemble: {
      type: "string",
      value: "RULE",
      defaultText: "the run's",
      description: `how members are combined: ${ENSEMBLE_RULES.join(", ")} (REFERENCE.md §4)`,
    },
    "batch-size": {
      type: "string",
      value: "N",
      default: "200",
      description: "evaluation batch size",
    },
    mode: MODE_FLAG,
    threads: THREADS_FLAG,
    json: { type: "boolean", description: "print one JSON object" },
  },
  notes: `ms/image is the wall time of the whole evaluation loop (data loading included) divided by
the images, as the reference's test.py reports it (REFERENCE.md §5).

Exit codes: 0 ok, 1 unreadable checkpoint, weights or data, 2 usage error.`,
});

interface Target {
  arch: string;
  split: number;
  dataset: DatasetKind;
  data: string;
  rule: EnsembleRule;
}

/** The flags that are plain values, checked before any file is read. */
interface EvalFlags {
  on: "test" | "train";
  limit: number;
  batchSize: number;
  rule?: EnsembleRule;
}

function evalFlags(values: ValuesOf<typeof EVAL>): EvalFlags {
  const rule = values.ensemble;
  if (rule !== undefined && !(ENSEMBLE_RULES as readonly string[]).includes(rule)) {
    throw new UsageError(`--ensemble must be one of ${ENSEMBLE_RULES.join(", ")}, got "${rule}"`);
  }
  if (values.on !== "test" && values.on !== "train")
    throw new UsageError(`--on must be test or train, got "${values.on}"`);
  return {
    on: values.on,
    limit: intFlag("eval-limit", values["eval-limit"], 0),
    batchSize: intFlag("batch-size", values["batch-size"]),
    rule: rule as EnsembleRule | undefined,
  };
}

/** The model and data to evaluate, from the run's config or from the flags. */
function target(values: ValuesOf<typeof EVAL>, rule: EnsembleRule | undefined): Target {
  if (values.run !== undefined) {
    const given = (["weights", "arch", "split", "dataset"] as const).filter(
      (k) => values[k] !== undefined,
    );
    if (given.length)
      throw new UsageError(
        `--run takes the model from the run; drop ${given.map((k) => `--${k}`).join(", ")}`,
      );
    const cfgPath = join(values.run, "config.json");
    if (!existsSync(cfgPath))
      throw new UsageError(`${values.run} is not a divco run directory (no config.json)`);
    const cfg = readConfigFile(cfgPath, "run config") as TrainConfig;
    return {
      arch: cfg.arch,
      split: cfg.split,
      dataset: cfg.dataset,
      data: values.data ?? cfg.data,
      rule: (rule ?? cfg.ensemble) as EnsembleRule,
    };
  }
  if (!values.weights || !values.arch || !values.split || !values.dataset)
    throw new UsageError("give --run DIR, or --weights with --arch, --split and --dataset");
  const split = intFlag("split", values.split);
  resolveArch(values.arch, { split, dataset: values.dataset });
  return {
    arch: values.arch,
    split,
    dataset: values.dataset as DatasetKind,
    data: values.data ?? "",
    rule: (rule ?? "mean_logits") as EnsembleRule,
  };
}

export async function runEval(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(EVAL, argv, out, (args) => evalCommand(args.values, out), {
    usageErrors: [ArchError, ConfigError],
  });
}

async function evalCommand(values: ValuesOf<typeof EVAL>, out: Out): Promise<number> {
  const { on, limit, batchSize, rule: ruleFlag } = evalFlags(values);
  const mode = modeFromFlag(values.mode);
  const threads = threadsFromFlag(values.threads);
  const { arch, split, dataset, data, rule } = target(values, ruleFlag);
  const members = create(arch, { split, dataset });
  let predictor: Ensemble | undefined;
  try {
    if (values.run !== undefined) {
      loadCheckpoint(join(values.run, "checkpoints"), values.checkpoint, members);
    } else {
      const { tensors } = loadTensors(values.weights!);
      try {
        members.loadStateDict(tensors);
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
    }
    const sets = openDatasets({
      dataset,
      data,
      evalLimit: on === "test" ? limit : 0,
      trainLimit: on === "train" ? limit : 0,
    });
    const loader = new MultiViewLoader({
      dataset: on === "test" ? sets.test : sets.train,
      augment: presetAugmentation(dataset, { train: false }),
      batchSize,
      shuffle: false,
      dropLast: false,
      seed: 0,
      workers: 1,
    });
    try {
      predictor = await Ensemble.load({ members }, { mode, rule, threads, batchSize });
      const ens = predictor;
      const t0 = performance.now();
      const r = await evaluate(members, loader, {
        rule,
        forwardMembers: (x) => ens.memberLogits(x),
      });
      const msPerImage = (performance.now() - t0) / Math.max(r.images, 1);
      if (values.json)
        out.log(
          JSON.stringify({
            arch,
            split,
            dataset,
            on: values.on,
            ensemble: rule,
            ...r,
            mode: ens.mode,
            threads: ens.threads,
            ms_per_image: Math.round(msPerImage * 1000) / 1000,
          }),
        );
      else {
        out.log(
          `${arch} S=${split} on ${dataset} ${values.on} (${r.images} images, ensemble ${rule})`,
        );
        out.log(`  ensemble top-1 ${r.top1.toFixed(2)}%  top-5 ${r.top5.toFixed(2)}%`);
        r.memberTop1.forEach((v, i) => out.log(`  member ${i} top-1 ${v.toFixed(2)}%`));
        out.log(
          `  ${msPerImage.toFixed(3)} ms/image (wall time over the loop, batch ${batchSize}, ${ens.mode}: ${ens.layout})`,
        );
      }
    } finally {
      await loader.close();
    }
  } catch (e) {
    out.err(`divco eval: ${(e as Error).message}`);
    if (e instanceof CheckpointError && values.run !== undefined)
      out.err(otherCheckpoints(values.run, values.checkpoint));
    return 1;
  } finally {
    await predictor?.close();
    members.dispose();
  }
  return 0;
}

/** What to do when a run's checkpoint cannot be used: the intact ones to evaluate instead, and how to repair. */
function otherCheckpoints(run: string, failed: string): string {
  const intact = surveyCheckpoints(join(run, "checkpoints")).filter(
    (s) => s.meta && s.name !== failed,
  );
  const list = intact.map((s) => `${s.name} (${describePosition(s.meta!)})`).join(", ");
  return (
    (intact.length
      ? `  intact checkpoints of this run: ${list}; evaluate one with --checkpoint NAME.\n`
      : `  this run has no intact checkpoint.\n`) +
    `  divco train --resume ${run} repairs best and the newest epoch copy where an intact checkpoint of that epoch exists.`
  );
}
