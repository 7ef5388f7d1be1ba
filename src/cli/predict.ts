// `divco predict`: classify image files with a divided model's ensemble. Images are decoded
// with sharp and transformed exactly as the dataset's evaluation transforms them (CIFAR/SVHN:
// 32×32 as they are; ImageNet: resize + centre crop, bicubic, REFERENCE.md §6.3); the top-k
// classes print with the dataset's class names where it has them. A file that cannot be used
// gets its own error line and the others are still predicted.
// Exit codes: 0 every file predicted, 1 a file or the model failed, 2 usage error.
import { defineCommand, intFlag, runCommand, stdio, type Out, type ValuesOf } from "./args.js";
import { ArchError } from "../models/registry.js";
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
import { Ensemble } from "../infer/predictor.js";
import "../models/index.js";

export const PREDICT = defineCommand({
  name: "predict",
  summary: "classify image files (JPEG/PNG) with a run's ensemble",
  usage: [
    "--run DIR [--checkpoint best|last|epoch-NNNN] IMAGE|DIR ... [options]",
    "--weights W --arch NAME --split S --dataset D IMAGE|DIR ... [options]",
  ],
  description: `Decodes each image (a directory: its image files, recursively), applies the dataset's
evaluation transform (CIFAR/SVHN: 32×32 images as they are; ImageNet: resize to int(1.15·crop)
+ centre crop, bicubic) and prints the ensemble's top-k classes. --json prints one object:
  {arch, split, dataset, ensemble_rule, mode, predictions: [{file, top: [{index, name?, probability}]}],
   errors: [{file, message}]}`,
  positionals: [
    {
      name: "IMAGE",
      description: "image files or directories of images",
      required: true,
      variadic: true,
    },
  ],
  flags: {
    run: RUN_FLAG,
    checkpoint: CHECKPOINT_FLAG,
    ...WEIGHTS_MODEL_FLAGS,
    "num-classes": NUM_CLASSES_FLAG,
    extra: EXTRA_FLAG,
    top: { type: "string", value: "K", default: "5", description: "classes shown per image" },
    mode: MODE_FLAG,
    threads: THREADS_FLAG,
    "batch-size": {
      type: "string",
      value: "N",
      default: "32",
      description: "images per forward pass",
    },
    json: { type: "boolean", description: "print one JSON object" },
  },
  notes: "Exit codes: 0 every file predicted, 1 a file or the model failed, 2 usage error.",
});

export async function runPredict(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(PREDICT, argv, out, (args) => predict(args.values, args.positionals, out), {
    usageErrors: [ArchError],
  });
}

async function predict(
  values: ValuesOf<typeof PREDICT>,
  paths: string[],
  out: Out,
): Promise<number> {
  const source = modelSourceFromFlags(values);
  const mode = modeFromFlag(values.mode);
  const threads = threadsFromFlag(values.threads);
  const topk = intFlag("top", values.top);
  const batchSize = intFlag("batch-size", values["batch-size"]);
  let ensemble: Ensemble;
  try {
    ensemble = await Ensemble.load(source, { mode, threads, batchSize });
  } catch (e) {
    out.err(`divco predict: ${(e as Error).message}`);
    return 1;
  }
  try {
    const { predictions, errors } = await ensemble.predictFiles(paths, { topk, batchSize });
    if (values.json) {
      out.log(
        JSON.stringify({
          arch: ensemble.arch,
          split: ensemble.split,
          dataset: ensemble.dataset,
          ensemble_rule: ensemble.rule,
          mode: ensemble.mode,
          predictions,
          errors,
        }),
      );
    } else {
      for (const p of predictions) {
        out.log(p.file);
        const names = p.top.map((t) => t.name ?? `class ${t.index}`);
        const w = Math.max(...names.map((n) => n.length));
        p.top.forEach((t, i) =>
          out.log(`  ${names[i].padEnd(w)}  ${(100 * t.probability).toFixed(2).padStart(6)}%`),
        );
      }
    }
    for (const e of errors) out.err(`divco predict: ${e.file}: ${e.message}`);
    return errors.length ? 1 : 0;
  } catch (e) {
    out.err(`divco predict: ${(e as Error).message}`);
    return 1;
  } finally {
    await ensemble.close();
  }
}
