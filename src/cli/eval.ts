// `divco eval`: evaluate a run's checkpoint (or a weights file) on a dataset split: ensemble
// top-1/top-5 and every member's top-1, with a selectable ensemble rule.
import { parseCommand } from "./args.js";
import { join } from "node:path";
import { readFileSync, existsSync } from "node:fs";
import { create, type DatasetKind } from "../models/registry.js";
import { loadCheckpoint } from "../cotrain/checkpoint.js";
import { evaluate } from "../cotrain/evaluate.js";
import { openDatasets } from "../cotrain/datasets.js";
import { MultiViewLoader } from "../data/loader.js";
import { presetAugmentation } from "../data/transforms/pipeline.js";
import { loadTensors } from "../io/tensors.js";
import type { TrainConfig } from "../cotrain/config.js";
import type { EnsembleRule } from "../cotrain/losses.js";
import "../models/index.js";

const HELP = `Usage: divco eval --run DIR [--checkpoint best|last|epoch-NNNN] [options]
       divco eval --weights W.safetensors --arch NAME --split S --dataset D --data DIR [options]

Evaluates the ensemble (top-1, top-5) and every member (top-1) on a split of the dataset.

Options:
  --on test|train          which split (default test)
  --data DIR|sample        dataset directory (default: the run's)
  --eval-limit N           only the first N records (CIFAR-10 test records 0–999 are the bit-exact ones)
  --ensemble RULE          mean_logits (default) | mean_probs | max | geometric
  --batch-size N           evaluation batch (default 200)
  --json                   print one JSON object
`;

export async function runEval(argv: string[]): Promise<number> {
  const parsed = parseCommand("eval", argv, {
    run: { type: "string" }, checkpoint: { type: "string", default: "best" }, weights: { type: "string" },
    arch: { type: "string" }, split: { type: "string" }, dataset: { type: "string" }, data: { type: "string" },
    on: { type: "string", default: "test" }, "eval-limit": { type: "string", default: "0" },
    ensemble: { type: "string" }, "batch-size": { type: "string", default: "200" }, json: { type: "boolean" },
  }, HELP);
  if (typeof parsed === "number") return parsed;
  const { values, usage: fail } = parsed;
  let arch: string;
  let split: number;
  let dataset: DatasetKind;
  let data: string;
  let rule: EnsembleRule;
  if (values.run) {
    const cfgPath = join(values.run, "config.json");
    if (!existsSync(cfgPath)) return fail(`${values.run} is not a divco run directory (no config.json)`);
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as TrainConfig;
    ({ arch, split, dataset, data } = cfg);
    rule = (values.ensemble ?? cfg.ensemble) as EnsembleRule;
    data = values.data ?? data;
  } else {
    if (!values.weights || !values.arch || !values.split || !values.dataset) return fail("give --run DIR, or --weights with --arch, --split and --dataset");
    arch = values.arch;
    split = Number(values.split);
    dataset = values.dataset as DatasetKind;
    data = values.data ?? "";
    rule = (values.ensemble ?? "mean_logits") as EnsembleRule;
  }
  if (values.on !== "test" && values.on !== "train") return fail(`--on must be test or train, got ${values.on}`);
  const members = create(arch, { split, dataset });
  try {
    if (values.run) {
      loadCheckpoint(join(values.run, "checkpoints"), values.checkpoint!, members);
    } else {
      const { tensors } = loadTensors(values.weights!);
      try {
        members.loadStateDict(tensors);
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
    }
    const limit = Number(values["eval-limit"]);
    const sets = openDatasets({ dataset, data, evalLimit: values.on === "test" ? limit : 0, trainLimit: values.on === "train" ? limit : 0 });
    const loader = new MultiViewLoader({
      dataset: values.on === "test" ? sets.test : sets.train,
      augment: presetAugmentation(dataset, { train: false }),
      batchSize: Number(values["batch-size"]),
      shuffle: false,
      dropLast: false,
      seed: 0,
      workers: 1,
    });
    try {
      const r = await evaluate(members, loader, { rule });
      if (values.json) process.stdout.write(JSON.stringify({ arch, split, dataset, on: values.on, ensemble: rule, ...r }) + "\n");
      else {
        process.stdout.write(`${arch} S=${split} on ${dataset} ${values.on} (${r.images} images, ensemble ${rule})\n`);
        process.stdout.write(`  ensemble top-1 ${r.top1.toFixed(2)}%  top-5 ${r.top5.toFixed(2)}%\n`);
        r.memberTop1.forEach((v, i) => process.stdout.write(`  member ${i} top-1 ${v.toFixed(2)}%\n`));
      }
    } finally {
      await loader.close();
    }
  } finally {
    members.dispose();
  }
  return 0;
}
