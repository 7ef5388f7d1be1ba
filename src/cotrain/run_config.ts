// Preparing a run: the resolved configuration of a new run, or the saved one of a resumed run
// (plus the changes a resume allows), and writing it into the run directory. Resolving reads
// only; the directory is written once everything that can reject the configuration has run.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "../io/atomic.js";
import {
  resolveConfig,
  readConfigFile,
  configDiff,
  ConfigError,
  RESUME_MUTABLE,
  type TrainConfig,
} from "./config.js";

/** What a caller of `train` gives: any config keys, the run directory, and arch for a new run. */
export type TrainInput = Partial<TrainConfig> & { arch?: string; runDir: string };

/** The run directory's subdirectory of checkpoints. */
export function checkpointDir(c: Pick<TrainConfig, "runDir">): string {
  return join(c.runDir, "checkpoints");
}

/** Resolves the config for a new run, or the saved one (plus allowed changes) for a resumed run. */
export function resolveRunConfig(user: TrainInput, resume: boolean): TrainConfig {
  const configPath = join(user.runDir, "config.json");
  if (resume) {
    if (!existsSync(configPath))
      throw new ConfigError(
        `cannot resume: ${configPath} does not exist (is ${user.runDir} a divco run directory?)`,
      );
    const saved = readConfigFile(configPath, "run config") as TrainConfig;
    const requested = resolveConfig({
      ...saved,
      ...stripUndefined(user),
      arch: user.arch ?? saved.arch,
    });
    const diff = configDiff(saved, requested);
    if (diff.length) {
      throw new ConfigError(
        `cannot resume ${user.runDir} with a different configuration:\n  ${diff.join("\n  ")}\n(only ${[...RESUME_MUTABLE].filter((k) => k !== "runDir").join(", ")} may change on resume)`,
      );
    }
    return requested;
  }
  if (!user.arch)
    throw new ConfigError("arch is required (divco summary --list shows the architectures)");
  const cfg = resolveConfig(user as TrainInput & { arch: string });
  if (existsSync(cfg.runDir) && readdirSync(cfg.runDir).length > 0) {
    throw new ConfigError(
      `run directory ${cfg.runDir} already exists and is not empty; pass --resume to continue it, or choose another --run-dir`,
    );
  }
  return cfg;
}

/** Creates the run directory (with its checkpoint directory) and writes every effective value to config.json. */
export function writeRunDirectory(c: TrainConfig): void {
  mkdirSync(checkpointDir(c), { recursive: true });
  writeFileAtomicSync(
    join(c.runDir, "config.json"),
    new TextEncoder().encode(JSON.stringify(c, null, 2) + "\n"),
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
