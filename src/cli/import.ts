/**
 * `divco import`: convert a PyTorch checkpoint of the reference implementation (or any
 * torch.save'd state dict) into a safetensors weights file, optionally checking that it fits
 * an architecture first. Exit codes: 0 ok, 1 bad checkpoint / does not fit, 2 usage error.
 */
import { parseCommand, stdio, type Out } from "./args.js";
import * as path from "node:path";
import { saveSafetensorsSync } from "../io/safetensors.js";
import { create, lookup, NUM_CLASSES, type DatasetKind } from "../models/index.js";
import { loadMembers, memberKeys, readWeights } from "../models/checkpoint.js";

const HELP = `divco import — PyTorch checkpoint → safetensors

Usage:
  divco import --from CHECKPOINT --to WEIGHTS.safetensors
               [--arch NAME --split S [--dataset D] [--num-classes N]]

Reads a torch.save file (zip or legacy format; the reference's model_best.pth.tar with
{'state_dict': {'module.models.0.…'}}, or a bare state dict), strips the DataParallel
"module." prefix and writes the tensors atomically as safetensors. Non-tensor entries
(epoch, arch, best_acc1) become metadata; optimizer state is dropped.

With --arch and --split the weights are first loaded strictly into that model; nothing is
written unless every key and shape fits.

Options:
  --from FILE        the PyTorch checkpoint
  --to FILE          the safetensors file to write
  --arch NAME        check against this architecture
  --split S          number of members
  --dataset D        cifar10 | cifar100 | svhn | imagenet (default: cifar100 for CIFAR archs)
  --num-classes N    classifier outputs (default: the dataset's)
  -h, --help         this text
`;


export async function runImport(argv: string[], out: Out = stdio): Promise<number> {
  const parsed = parseCommand("import", argv, {
        from: { type: "string" },
        to: { type: "string" },
        arch: { type: "string" },
        split: { type: "string" },
        dataset: { type: "string" },
        "num-classes": { type: "string" },
  }, HELP, out);
  if (typeof parsed === "number") return parsed;
  const { values, usage } = parsed;
  if (!values.from || !values.to) return usage("--from and --to are required");
  if (path.resolve(values.from) === path.resolve(values.to)) return usage("--to must differ from --from");
  if ((values.split || values.dataset || values["num-classes"]) && !values.arch) return usage("--split/--dataset/--num-classes only apply with --arch");
  let check: { arch: string; split: number; dataset: DatasetKind; numClasses?: number } | undefined;
  if (values.arch) {
    let entry;
    try {
      entry = lookup(values.arch);
    } catch (e) {
      return usage((e as Error).message);
    }
    const split = Number(values.split ?? "1");
    if (!entry.splits.includes(split)) return usage(`${entry.name} cannot be divided into S=${values.split}; allowed: ${entry.splits.join(", ")}`);
    const dataset = (values.dataset ?? (entry.datasets.includes("cifar100") ? "cifar100" : entry.datasets[0])) as DatasetKind;
    if (!(dataset in NUM_CLASSES) || !entry.datasets.includes(dataset)) return usage(`${entry.name} is not defined for dataset "${dataset}"; it is for ${entry.datasets.join(", ")}`);
    const n = values["num-classes"] === undefined ? undefined : Number(values["num-classes"]);
    if (n !== undefined && !(Number.isInteger(n) && n > 0)) return usage(`--num-classes takes a positive integer, got "${values["num-classes"]}"`);
    check = { arch: entry.name, split, dataset, numClasses: n };
  }
  try {
    const w = readWeights(values.from);
    if (w.format !== "pytorch") throw new Error(`${values.from}: already a safetensors file (nothing to import)`);
    let tensors = w.tensors;
    if (check) {
      const members = create(check.arch, { split: check.split, dataset: check.dataset, numClasses: check.numClasses });
      try {
        loadMembers(members, tensors, values.from);
      } finally {
        members.dispose();
      }
      tensors = memberKeys(tensors, check.split);
    }
    const metadata: Record<string, string> = { source: path.basename(values.from), format: "pt" };
    for (const [k, v] of Object.entries(w.info)) if (v !== null) metadata[k] = String(v);
    if (check) Object.assign(metadata, { arch: check.arch, split: String(check.split), dataset: check.dataset });
    saveSafetensorsSync(values.to, tensors, metadata);
    let n = 0;
    for (const r of tensors.values()) n += r.shape.reduce((a, b) => a * b, 1);
    out.log(`wrote ${values.to}: ${tensors.size} tensors, ${n.toLocaleString("en-US")} values${check ? ` (checked against ${check.arch} S=${check.split})` : ""}`);
    return 0;
  } catch (e) {
    out.err(`divco import: ${(e as Error).message}`);
    return 1;
  }
}
