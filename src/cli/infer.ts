/**
 * `divco infer`: run a divided model's members on a batch of images in eval mode and write
 * every member's logits and the ensemble (mean of logits, REFERENCE.md §4) as JSON.
 * Exit codes: 0 ok, 1 bad weights / input, 2 usage error.
 */
import { parseCommand, stdio, type Out } from "./args.js";
import { writeFileAtomicSync } from "../io/atomic.js";
import { readSafetensors } from "../io/safetensors.js";
import { recordToTensor } from "../io/tensors.js";
import { create, lookup, NUM_CLASSES, type DatasetKind } from "../models/index.js";
import { loadMembers, readWeights } from "../models/checkpoint.js";
import { noGrad } from "../tensor/autograd.js";
import type { Tensor } from "../tensor/tensor.js";

const HELP = `divco infer — members' and ensemble logits for a batch of images

Usage:
  divco infer --arch NAME --split S --dataset D --weights W --input X.safetensors
              [--key NAME] [--num-classes N] [--extra KEY=VALUE ...] --output Y.json

Options:
  --arch NAME        architecture
  --split S          number of members
  --dataset D        cifar10 | cifar100 | svhn | imagenet
  --weights W        safetensors (divco import) or a PyTorch checkpoint
  --input X          safetensors holding an N×3×H×W float tensor (normalised images)
  --key NAME         which tensor of X (default: the only one)
  --num-classes N    classifier outputs (default: the dataset's)
  --extra K=V        family option (numbers), e.g. width=4 for shrunken test models
  --output Y         JSON: {members: [S × N × C], ensemble: N × C, predictions: N}
  -h, --help         this text
`;


function rows(t: Tensor): number[][] {
  const [n, c] = t.shape;
  const flat = t.toArray();
  return Array.from({ length: n }, (_, i) => flat.slice(i * c, (i + 1) * c));
}

export async function runInfer(argv: string[], out: Out = stdio): Promise<number> {
  const parsed = parseCommand("infer", argv, {
        arch: { type: "string" },
        split: { type: "string" },
        dataset: { type: "string" },
        weights: { type: "string" },
        input: { type: "string" },
        key: { type: "string" },
        "num-classes": { type: "string" },
        extra: { type: "string", multiple: true },
        output: { type: "string" },
  }, HELP, out);
  if (typeof parsed === "number") return parsed;
  const { values, usage } = parsed;
  const missing = ["arch", "split", "dataset", "weights", "input", "output"].filter((k) => values[k as keyof typeof values] === undefined);
  if (missing.length) return usage(`missing ${missing.map((k) => `--${k}`).join(", ")}`);
  let entry;
  try {
    entry = lookup(values.arch!);
  } catch (e) {
    return usage((e as Error).message);
  }
  const split = Number(values.split);
  if (!entry.splits.includes(split)) return usage(`${entry.name} cannot be divided into S=${values.split}; allowed: ${entry.splits.join(", ")}`);
  const dataset = values.dataset as DatasetKind;
  if (!(dataset in NUM_CLASSES) || !entry.datasets.includes(dataset)) return usage(`${entry.name} is not defined for dataset "${values.dataset}"; it is for ${entry.datasets.join(", ")}`);
  const numClasses = values["num-classes"] === undefined ? undefined : Number(values["num-classes"]);
  if (numClasses !== undefined && !(Number.isInteger(numClasses) && numClasses > 0)) return usage(`--num-classes takes a positive integer, got "${values["num-classes"]}"`);
  const extra: Record<string, unknown> = {};
  for (const kv of values.extra ?? []) {
    const m = /^([A-Za-z_][\w]*)=(.+)$/.exec(kv);
    if (!m || !Number.isFinite(Number(m[2]))) return usage(`--extra takes KEY=NUMBER, got "${kv}"`);
    extra[m[1]] = Number(m[2]);
  }

  let members;
  try {
    members = create(entry.name, { split, dataset, numClasses, extra });
  } catch (e) {
    out.err(`divco infer: ${(e as Error).message}`);
    return 1;
  }
  try {
    const w = readWeights(values.weights!);
    loadMembers(members, w.tensors, values.weights);
    const input = readSafetensors(values.input!);
    const keys = [...input.tensors.keys()];
    const key = values.key ?? (keys.length === 1 ? keys[0] : undefined);
    if (key === undefined) throw new Error(`${values.input} holds ${keys.length} tensors (${keys.slice(0, 10).join(", ")}); choose one with --key`);
    const rec = input.tensors.get(key);
    if (!rec) throw new Error(`${values.input} has no tensor "${key}"; it has ${keys.slice(0, 10).join(", ")}`);
    if (rec.dtype !== "f32" && rec.dtype !== "f64") throw new Error(`${values.input}: "${key}" is ${rec.dtype}; give normalised float images (f32)`);
    if (rec.shape.length !== 4 || rec.shape[1] !== 3) throw new Error(`${values.input}: "${key}" has shape [${rec.shape}]; expected N×3×H×W`);
    members.eval();
    const result = noGrad(() => {
      const raw = recordToTensor(rec);
      const x = raw.dtype === "f32" ? raw : raw.to("f32");
      if (x !== raw) raw.dispose();
      try {
        const outs = members.forwardEach(x);
        const sum = outs[0].clone();
        for (const o of outs.slice(1)) sum.add_(o);
        const ensemble = sum.div(outs.length);
        sum.dispose();
        const pred = ensemble.argmax(1);
        const res = { members: outs.map(rows), ensemble: rows(ensemble), predictions: pred.toArray() };
        for (const t of [...outs, ensemble, pred]) t.dispose();
        return res;
      } finally {
        x.dispose();
      }
    });
    const doc = {
      arch: entry.name, split, dataset, num_classes: members.options.numClasses,
      input: { file: values.input, key, shape: rec.shape },
      ensemble_rule: "mean of logits",
      ...result,
    };
    writeFileAtomicSync(values.output!, new TextEncoder().encode(JSON.stringify(doc) + "\n"));
    out.log(`wrote ${values.output}: ${split} member(s) × ${rec.shape[0]} image(s) × ${members.options.numClasses} classes`);
    return 0;
  } catch (e) {
    out.err(`divco infer: ${(e as Error).message}`);
    return 1;
  } finally {
    members.dispose();
  }
}
