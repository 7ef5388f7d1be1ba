// `divco import`: convert a PyTorch checkpoint of the reference implementation (or any
// torch.save'd state dict) into a safetensors weights file, optionally checking that it fits
// an architecture first. Exit codes: 0 ok, 1 bad checkpoint / does not fit, 2 usage error.
import * as path from "node:path";
import { defineCommand, runCommand, stdio, UsageError, type Out, type ValuesOf } from "./args.js";
import { archFromFlags, EXTRA_FLAG, NUM_CLASSES_FLAG, type ArchChoice } from "./arch_flags.js";
import { saveSafetensorsSync } from "../io/safetensors.js";
import { create, ArchError } from "../models/registry.js";
import { loadMembers, memberKeys, readWeights } from "../models/checkpoint.js";
import "../models/index.js";

export const IMPORT = defineCommand({
  name: "import",
  summary: "PyTorch checkpoint → safetensors",
  usage: [
    "--from CHECKPOINT --to WEIGHTS.safetensors",
    " [--arch NAME [--split S] [--dataset D] [--num-classes N] [--extra KEY=NUMBER ...]]",
  ],
  description: `Reads a torch.save file (zip or legacy format; the reference's model_best.pth.tar with
{'state_dict': {'module.models.0.…'}}, or a bare state dict), strips the DataParallel
"module." prefix and writes the tensors atomically as safetensors. Non-tensor entries
(epoch, arch, best_acc1) become metadata; optimizer state is dropped.

With --arch the weights are first loaded strictly into that model; nothing is written
unless every key and shape fits.`,
  flags: {
    from: { type: "string", value: "FILE", required: true, description: "the PyTorch checkpoint" },
    to: {
      type: "string",
      value: "FILE",
      required: true,
      description: "the safetensors file to write",
    },
    arch: {
      type: "string",
      value: "NAME",
      description: "check the weights against this architecture",
    },
    split: {
      type: "string",
      value: "S",
      defaultText: "1",
      description: "number of members (with --arch)",
    },
    dataset: {
      type: "string",
      value: "D",
      defaultText: "by arch",
      description:
        "cifar10, cifar100, svhn or imagenet (with --arch); cifar100 for CIFAR archs, else imagenet",
    },
    "num-classes": { ...NUM_CLASSES_FLAG, description: "classifier outputs (with --arch)" },
    extra: {
      ...EXTRA_FLAG,
      description: "family option of the checked model (with --arch), e.g. width=4",
    },
  },
  notes: "Exit codes: 0 ok, 1 bad checkpoint or weights that do not fit, 2 usage error.",
});

export async function runImport(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(IMPORT, argv, out, (args) => importCheckpoint(args.values, out), {
    usageErrors: [ArchError],
  });
}

async function importCheckpoint(values: ValuesOf<typeof IMPORT>, out: Out): Promise<number> {
  if (path.resolve(values.from) === path.resolve(values.to))
    throw new UsageError("--to must differ from --from");
  const checkOnly = (["split", "dataset", "num-classes"] as const)
    .filter((k) => values[k] !== undefined)
    .map((k) => `--${k}`);
  if (values.extra.length) checkOnly.push("--extra");
  if (checkOnly.length && !values.arch)
    throw new UsageError(
      `${checkOnly.join("/")} only appl${checkOnly.length > 1 ? "y" : "ies"} with --arch`,
    );
  const check: ArchChoice | undefined = values.arch
    ? archFromFlags({ ...values, arch: values.arch, split: values.split ?? "1" })
    : undefined;
  try {
    const w = readWeights(values.from);
    if (w.format !== "pytorch")
      throw new Error(`${values.from}: already a safetensors file (nothing to import)`);
    let tensors = w.tensors;
    if (check) {
      const members = create(check.entry.name, {
        split: check.split,
        dataset: check.dataset,
        numClasses: check.numClasses,
        extra: check.extra,
      });
      try {
        loadMembers(members, tensors, values.from);
      } finally {
        members.dispose();
      }
      tensors = memberKeys(tensors, check.split);
    }
    const metadata: Record<string, string> = { source: path.basename(values.from), format: "pt" };
    for (const [k, v] of Object.entries(w.info)) if (v !== null) metadata[k] = String(v);
    if (check)
      Object.assign(metadata, {
        arch: check.entry.name,
        split: String(check.split),
        dataset: check.dataset,
      });
    saveSafetensorsSync(values.to, tensors, metadata);
    let n = 0;
    for (const r of tensors.values()) n += r.shape.reduce((a, b) => a * b, 1);
    out.log(
      `wrote ${values.to}: ${tensors.size} tensors, ${n.toLocaleString("en-US")} values${check ? ` (checked against ${check.entry.name} S=${check.split})` : ""}`,
    );
    return 0;
  } catch (e) {
    out.err(`divco import: ${(e as Error).message}`);
    return 1;
  }
}
