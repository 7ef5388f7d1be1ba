// `divco train`: co-train S members of an architecture (flags, or --config file).
import { train, NonFiniteLossError } from "../cotrain/trainer.js";
import { ConfigError } from "../cotrain/config.js";
import { configFromArgs, configHelp, parseCommand } from "./config_flags.js";
import "../models/index.js";

const HELP = `Usage: divco train --arch NAME --run-dir DIR [options]
       divco train --resume DIR [--epochs N]

Co-trains S members (--split S) of a registered architecture on their own augmented views
(REFERENCE.md §3), evaluating the ensemble and every member each epoch. The run directory gets
config.json (every effective value), metrics.jsonl/.csv, TensorBoard events and checkpoints
(last, best, the last N epochs). Ctrl-C saves a checkpoint and stops; --resume DIR continues
bit-exactly. A preset fills the reference's recipe for the dataset/architecture/epochs; any flag
overrides it, and the resolved values are written to config.json.

Options (defaults before presets):
  --arch NAME                      architecture (divco summary --list)
  --run-dir DIR                    where the run is written (must not exist, unless --resume)
  --resume DIR                     continue the run in DIR
  --config FILE                    JSON object of the options below (camelCase keys)
${configHelp()}
`;

export async function runTrain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCommand(argv, { resume: { type: "string" } }));
  } catch (e) {
    process.stderr.write(`divco train: ${(e as Error).message}\n(divco train --help lists the options)\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const user = configFromArgs(values);
    const resume = typeof values.resume === "string";
    const runDir = resume ? (values.resume as string) : user.runDir;
    if (!runDir) throw new ConfigError("--run-dir DIR is required (or --resume DIR)");
    if (resume && user.runDir && user.runDir !== runDir) throw new ConfigError("give either --run-dir or --resume, not both");
    const result = await train({ ...user, runDir }, { resume, handleSigint: true });
    if (result.status === "interrupted") {
      process.stderr.write(`divco train: interrupted; resume with: divco train --resume ${result.runDir}\n`);
      return 130;
    }
    process.stdout.write(`best ensemble top-1 ${result.bestAcc1.toFixed(2)}% at epoch ${result.bestEpoch}; run directory ${result.runDir}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`divco train: ${e.message}\n`);
      return 2;
    }
    if (e instanceof NonFiniteLossError) {
      process.stderr.write(`divco train: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
