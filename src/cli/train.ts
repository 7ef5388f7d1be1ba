// `divco train`: co-train S members of an architecture (flags, or --config file).
// Exit codes: 0 finished, 1 training failed (non-finite loss, missing or undecodable data), 2 usage
// error (flags, config, architecture, S, dataset), 130 interrupted (checkpoint saved).
import { train, NonFiniteLossError } from "../cotrain/trainer.js";
import { ConfigError } from "../cotrain/config.js";
import { DataError } from "../data/errors.js";
import { ArchError } from "../models/registry.js";
import { defineCommand, runCommand, stdio, type Out } from "./args.js";
import { configFlags, configFromArgs } from "./config_flags.js";
import "../models/index.js";

export const TRAIN = defineCommand({
  name: "train",
  summary: "co-train S members of an architecture (resumable run directories)",
  usage: ["--arch NAME --run-dir DIR [options]", "--resume DIR [--epochs N]"],
  description: `Co-trains S members (--split S) of a registered architecture on their own augmented views
(REFERENCE.md §3), evaluating the ensemble and every member each epoch. The run directory gets
config.json (every effective value), metrics.jsonl/.csv, TensorBoard events and checkpoints
(last, best, the last N epochs). Ctrl-C saves a checkpoint and stops; --resume DIR continues
bit-exactly. A preset fills the reference's recipe for the dataset/architecture/epochs; any flag
overrides it, and the resolved values are written to config.json. Section numbers (§) refer to
REFERENCE.md.

Several processes (one machine or several): start every rank with \`divco launch --nproc-per-node N
-- divco train ...\` (or torchrun). Data-parallel by default: the batch is the global batch,
divided among the ranks, and the result equals one process's (with --sync-bn, to float
rounding); --member-parallel trains member i in its own process instead. Rank 0 alone reads and
writes the run directory.`,
  flags: {
    resume: {
      type: "string",
      value: "DIR",
      description:
        "continue the run in DIR (only --epochs, --workers, --keep-last, --on-bad-image may change)",
    },
    config: {
      type: "string",
      value: "FILE",
      description: "JSON object of the options below (camelCase keys); flags override it",
    },
    distributed: {
      type: "boolean",
      description:
        "train as one rank of several processes (needs the environment `divco launch` sets; implied by WORLD_SIZE)",
    },
    ...configFlags(),
  },
  notes: `* the preset for the dataset, architecture and epochs may replace this default (REFERENCE.md §6).

Exit codes: 0 finished, 1 training failed (non-finite loss, missing or undecodable data), 2 usage
error (flags, config, architecture, S, dataset), 130 interrupted (a checkpoint is saved; continue
with --resume).`,
});

export async function runTrain(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(
    TRAIN,
    argv,
    out,
    async ({ values }) => {
      const user = configFromArgs(values);
      const resume = typeof values.resume === "string";
      const runDir = resume ? (values.resume as string) : user.runDir;
      if (!runDir) throw new ConfigError("--run-dir DIR is required (or --resume DIR)");
      if (resume && user.runDir && user.runDir !== runDir)
        throw new ConfigError("give either --run-dir or --resume, not both");
      try {
        const result = await train(
          { ...user, runDir },
          { resume, handleSigint: true, distributed: values.distributed === true },
        );
        // Of a distributed run's processes only rank 0 reports (it wrote the run directory).
        if (result.rank !== undefined && result.rank > 0)
          return result.status === "interrupted" ? 130 : 0;
        if (result.status === "interrupted") {
          out.err(`divco train: interrupted; resume with: divco train --resume ${result.runDir}`);
          return 130;
        }
        out.log(
          `best ensemble top-1 ${result.bestAcc1.toFixed(2)}% at epoch ${result.bestEpoch}; run directory ${result.runDir}`,
        );
        return 0;
      } catch (e) {
        if (!(e instanceof NonFiniteLossError || e instanceof DataError)) throw e;
        out.err(`divco train: ${e.message}`);
        return 1;
      }
    },
    { usageErrors: [ConfigError, ArchError] },
  );
}
