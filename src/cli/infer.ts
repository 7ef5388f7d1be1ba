// `divco infer`: run a divided model's members on a batch of images in eval mode and write
// every member's logits and the ensemble (mean of logits, REFERENCE.md §4) as JSON.
// Exit codes: 0 ok, 1 bad weights / input, 2 usage error.
import { defineCommand, runCommand, stdio, type Out, type ValuesOf } from "./args.js";
import { archFromFlags, EXTRA_FLAG, NUM_CLASSES_FLAG } from "./arch_flags.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { readSafetensors } from "../io/safetensors.js";
import { recordToTensor } from "../io/tensors.js";
import { create, ArchError } from "../models/registry.js";
import { loadMembers, readWeights } from "../models/checkpoint.js";
import { ensemble } from "../models/ensemble.js";
import { noGrad } from "../tensor/autograd.js";
import { scope } from "../tensor/scope.js";
import type { Tensor } from "../tensor/tensor.js";
import "../models/index.js";

export const INFER = defineCommand({
  name: "infer",
  summary: "members' and ensemble logits for a batch of images",
  usage: [
    "--arch NAME --split S --dataset D --weights W --input X.safetensors --output Y.json",
    " [--key NAME] [--num-classes N] [--extra KEY=NUMBER ...]",
  ],
  description: `Runs every member in eval mode on the images and writes their logits, the ensemble (mean of
logits, REFERENCE.md §4) and its predictions as JSON:
  {arch, split, dataset, num_classes, input: {file, key, shape}, ensemble_rule,
   members: S × N × C, ensemble: N × C, predictions: N}`,
  flags: {
    arch: {
      type: "string",
      value: "NAME",
      required: true,
      description: "architecture (divco summary --list)",
    },
    split: { type: "string", value: "S", required: true, description: "number of members" },
    dataset: {
      type: "string",
      value: "D",
      required: true,
      description: "cifar10, cifar100, svhn or imagenet",
    },
    weights: {
      type: "string",
      value: "W",
      required: true,
      description: "safetensors (divco import) or a PyTorch checkpoint",
    },
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

async function infer(values: ValuesOf<typeof INFER>, out: Out): Promise<number> {
  const { entry, split, dataset, numClasses, extra } = archFromFlags(values);
  let members;
  try {
    members = create(entry.name, { split, dataset, numClasses, extra });
  } catch (e) {
    out.err(`divco infer: ${(e as Error).message}`);
    return 1;
  }
  try {
    const w = readWeights(values.weights);
    loadMembers(members, w.tensors, values.weights);
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
    members.eval();
    const result = noGrad(() =>
      scope(() => {
        const raw = recordToTensor(rec);
        const x = raw.dtype === "f32" ? raw : raw.to("f32");
        const outs = members.forwardEach(x);
        const logits = ensemble("mean_logits", outs);
        return {
          members: outs.map(rows),
          ensemble: rows(logits),
          predictions: logits.argmax(1).toArray(),
        };
      }),
    );
    const doc = {
      arch: entry.name,
      split,
      dataset,
      num_classes: members.options.numClasses,
      input: { file: values.input, key, shape: rec.shape },
      ensemble_rule: "mean of logits",
      ...result,
    };
    writeFileAtomicSync(values.output, new TextEncoder().encode(JSON.stringify(doc) + "\n"));
    out.log(
      `wrote ${values.output}: ${split} member(s) × ${rec.shape[0]} image(s) × ${members.options.numClasses} classes`,
    );
    return 0;
  } catch (e) {
    out.err(`divco infer: ${(e as Error).message}`);
    return 1;
  } finally {
    members.dispose();
  }
}
