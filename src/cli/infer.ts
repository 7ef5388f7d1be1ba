// `divco infer`: run a divided model's members on a batch of images in eval mode and write
// every member's logits and the ensemble (mean of logits, REFERENCE.md §4) as JSON. The model
// runs through the ensemble predictor in any execution mode (src/infer); images whose values
// or logits are not finite are counted and reported (their logits are written as null).
// Exit codes: 0 ok, 1 bad weights / input, 2 usage error.
import { defineCommand, runCommand, stdio, UsageError, type Out, type ValuesOf } from "./args.js";
import { EXTRA_FLAG, NUM_CLASSES_FLAG } from "./arch_flags.js";
import {
  CHECKPOINT_FLAG,
  MODE_FLAG,
  RUN_FLAG,
  THREADS_FLAG,
  WEIGHTS_MODEL_FLAGS,
  modeFromFlag,
  modelSourceFromFlags,
  threadsFromFlag,
} from "./infer_flags.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { readSafetensors } from "../io/safetensors.js";
import { recordToTensor } from "../io/tensors.js";
import { ArchError } from "../models/registry.js";
import { Ensemble } from "../infer/predictor.js";
import { scope } from "../tensor/scope.js";
import type { Tensor } from "../tensor/tensor.js";
import "../models/index.js";

export const INFER = defineCommand({
  name: "infer",
  summary: "members' and ensemble logits for a batch of images",
  usage: [
    "--arch NAME --split S --dataset D --weights W --input X.safetensors --output Y.json",
    " [--key NAME] [--num-classes N] [--extra KEY=NUMBER ...] [--mode MODE]",
    "--run DIR [--checkpoint NAME] --input X.safetensors --output Y.json [--mode MODE]",
  ],
  description: `Runs every member in eval mode on the images and writes their logits, the ensemble (mean of
logits, REFERENCE.md §4; a run's own rule with --run) and its predictions as JSON:
  {arch, split, dataset, num_classes, input: {file, key, shape}, ensemble_rule,
   members: S × N × C, ensemble: N × C, predictions: N}
Images holding NaN or Inf, and images whose logits are not finite, are counted on stderr;
their non-finite logits are written as null.`,
  flags: {
    run: RUN_FLAG,
    checkpoint: CHECKPOINT_FLAG,
    ...WEIGHTS_MODEL_FLAGS,
    input: {
      type: "string",
      value: "X",
      required: true,
      description: "safetensors holding an N×3×H×W float tensor (normalised images)",
    },
    key: {
      type: "string",
      value: "NAME",
      defaultText: "the only one",
      description: "which tensor of X",
    },
    "num-classes": NUM_CLASSES_FLAG,
    extra: EXTRA_FLAG,
    output: { type: "string", value: "Y", required: true, description: "the JSON file to write" },
    mode: MODE_FLAG,
    threads: THREADS_FLAG,
  },
  notes:
    "Exit codes: 0 ok, 1 bad weights or input, 2 usage error (flags, architecture, S, dataset).",
});

function rows(t: Tensor): number[][] {
  const [n, c] = t.shape;
  const flat = t.toArray();
  return Array.from({ length: n }, (_, i) => flat.slice(i * c, (i + 1) * c));
}

export async function runInfer(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(INFER, argv, out, (args) => infer(args.values, out), {
    usageErrors: [ArchError],
  });
}

/** Without --run, the flags that name the model are required. */
function checkModelFlags(values: ValuesOf<typeof INFER>): void {
  if (values.run !== undefined) return;
  const missing = (["arch", "split", "dataset", "weights"] as const).filter(
    (k) => values[k] === undefined,
  );
  if (missing.length)
    throw new UsageError(`missing ${missing.map((k) => `--${k}`).join(", ")} (or give --run DIR)`);
}

/** Counts of images with non-finite values: in the input, and in the ensemble's logits. */
function nonFinite(x: Tensor, logits: Tensor): { inputs: number; outputs: number } {
  return scope(() => ({
    inputs: x.isfinite().logicalNot().flatten(1).any(1).sum().item(),
    outputs: logits.isfinite().logicalNot().any(1).sum().item(),
  }));
}

async function infer(values: ValuesOf<typeof INFER>, out: Out): Promise<number> {
  checkModelFlags(values);
  const source = modelSourceFromFlags(values);
  const mode = modeFromFlag(values.mode);
  const threads = threadsFromFlag(values.threads);
  let ensemble: Ensemble;
  try {
    ensemble = await Ensemble.load(source, { mode, threads });
  } catch (e) {
    out.err(`divco infer: ${(e as Error).message}`);
    return 1;
  }
  try {
    const input = readSafetensors(values.input);
    const keys = [...input.tensors.keys()];
    const key = values.key ?? (keys.length === 1 ? keys[0] : undefined);
    if (key === undefined)
      throw new Error(
        `${values.input} holds ${keys.length} tensors (${keys.slice(0, 10).join(", ")}); choose one with --key`,
      );
    const rec = input.tensors.get(key);
    if (!rec)
      throw new Error(
        `${values.input} has no tensor "${key}"; it has ${keys.slice(0, 10).join(", ")}`,
      );
    if (rec.dtype !== "f32" && rec.dtype !== "f64")
      throw new Error(
        `${values.input}: "${key}" is ${rec.dtype}; give normalised float images (f32)`,
      );
    if (rec.shape.length !== 4 || rec.shape[1] !== 3)
      throw new Error(`${values.input}: "${key}" has shape [${rec.shape}]; expected N×3×H×W`);
    const raw = recordToTensor(rec);
    const x = raw.dtype === "f32" ? raw : raw.to("f32");
    let result;
    let counts;
    try {
      using p = await ensemble.predict(x);
      // The ensemble rule's scores: mean_logits gives the mean of the logits (the file's
      // "ensemble"), the other rules their combined probabilities.
      counts = nonFinite(x, p.scores);
      result = {
        members: p.members.map(rows),
        ensemble: rows(p.scores),
        predictions: scope(() => p.scores.argmax(1).toArray()),
      };
    } finally {
      if (x !== raw) x.dispose();
      raw.dispose();
    }
    const n = rec.shape[0];
    if (counts.inputs)
      out.err(
        `divco infer: warning: ${counts.inputs} of ${n} image(s) hold NaN or Inf values; their logits are not finite (written as null)`,
      );
    if (counts.outputs > counts.inputs)
      out.err(
        `divco infer: warning: ${counts.outputs} of ${n} image(s) have non-finite ensemble logits (written as null)`,
      );
    const doc = {
      arch: ensemble.arch,
      split: ensemble.split,
      dataset: ensemble.dataset,
      num_classes: ensemble.numClasses,
      input: { file: values.input, key, shape: rec.shape },
      ensemble_rule: ensemble.rule === "mean_logits" ? "mean of logits" : ensemble.rule,
      ...result,
    };
    writeFileAtomicSync(values.output, new TextEncoder().encode(JSON.stringify(doc) + "\n"));
    out.log(
      `wrote ${values.output}: ${ensemble.split} member(s) × ${n} image(s) × ${ensemble.numClasses} classes`,
    );
    return 0;
  } catch (e) {
    out.err(`divco infer: ${(e as Error).message}`);
    return 1;
  } finally {
    await ensemble.close();
  }
}
