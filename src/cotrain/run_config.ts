// Preparing a run: the resolved configuration of a new run, or the saved one of a resumed run
// (plus the changes a resume allows), and writing it into the run directory. Resolving reads
// only; the directory is written once everything that can reject the configuration has run.
//
// A resumed run's configuration is config.json, checked against the configuration stored in the
// checkpoint it resumes from: an edit of config.json after that checkpoint is refused exactly as
// a changed flag is, and a missing or unreadable config.json is recovered from the checkpoint.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
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
import { RUN_LOCK, assertRunDirFree } from "./run_lock.js";

/** What a caller of `train` gives: any config keys, the run directory, and arch for a new run. */
export type TrainInput = Partial<TrainConfig> & { arch?: string; runDir: string };

/** The run directory's subdirectory of checkpoints. */
export function checkpointDir(c: Pick<TrainConfig, "runDir">): string {
  return join(c.runDir, "checkpoints");
}

/** The configuration a resumed run's checkpoint was trained with, and that checkpoint's name. */
export interface CheckpointConfig {
  name: string;
  config: Record<string, unknown>;
}

/** A resolved configuration, and what resolving it recovered (for the user). */
export interface ResolvedRun {
  config: TrainConfig;
  notes: string[];
}

const ONLY_MUTABLE = `only ${[...RESUME_MUTABLE].filter((k) => k !== "runDir").join(", ")} may change on resume`;

/**
 * Resolves the config for a new run, or the saved one (plus allowed changes) for a resumed run;
 * `fromCheckpoint` is the configuration stored in the checkpoint a resumed run continues from.
 */
export function resolveRunConfig(
  user: TrainInput,
  resume: boolean,
  fromCheckpoint?: CheckpointConfig,
): ResolvedRun {
  if (resume) return resolveResumed(user, fromCheckpoint);
  if (!user.arch)
    throw new ConfigError("arch is required (divco summary --list shows the architectures)");
  const cfg = resolveConfig(user as TrainInput & { arch: string });
  if (existsSync(cfg.runDir)) {
    assertRunDirFree(cfg.runDir);
    assertNoRunIn(cfg.runDir);
  }
  return { config: cfg, notes: [] };
}

/** Refuses a directory that holds anything but its lock: a new run never overwrites another's files. */
export function assertNoRunIn(runDir: string): void {
  if (readdirSync(runDir).some((f) => f !== RUN_LOCK)) {
    throw new ConfigError(
      `run directory ${runDir} already exists and is not empty; pass --resume to continue it, or choose another --run-dir`,
    );
  }
}

/** Refuses to resume a directory that is not a run's (no config.json, no checkpoints). */
export function assertResumable(runDir: string): void {
  if (!existsSync(join(runDir, "config.json")) && !existsSync(join(runDir, "checkpoints")))
    throw new ConfigError(
      `cannot resume: ${join(runDir, "config.json")} does not exist (is ${runDir} a divco run directory?)`,
    );
}

function resolveResumed(user: TrainInput, fromCheckpoint?: CheckpointConfig): ResolvedRun {
  const configPath = join(user.runDir, "config.json");
  const notes: string[] = [];
  const recover = (why: string): TrainConfig => {
    if (!fromCheckpoint)
      throw new ConfigError(
        `cannot resume: ${configPath} ${why}${existsSync(configPath) ? "; restore it from a backup" : ` (is ${user.runDir} a divco run directory?)`}`,
      );
    notes.push(
      `${configPath} ${why}: using the configuration stored in checkpoints/${fromCheckpoint.name}.safetensors (and writing it back)`,
    );
    return fromCheckpoint.config as unknown as TrainConfig;
  };
  const readSaved = (): { saved: TrainConfig; fromFile: boolean } => {
    if (!existsSync(configPath)) return { saved: recover("does not exist"), fromFile: false };
    try {
      JSON.parse(readFileSync(configPath, "utf8"));
    } catch (e) {
      return { saved: recover(`is not valid JSON (${(e as Error).message})`), fromFile: false };
    }
    // Parsable: every value is checked by the schema, its errors naming this file and key.
    return { saved: readConfigFile(configPath, "run config") as TrainConfig, fromFile: true };
  };
  const { saved, fromFile } = readSaved();
  if (fromFile && fromCheckpoint) {
    const edited = configDiff(fromCheckpoint.config as unknown as TrainConfig, saved);
    if (edited.length) {
      throw new ConfigError(
        `cannot resume ${user.runDir}: its config.json was changed after checkpoints/${fromCheckpoint.name}.safetensors was saved:\n  ${edited.join("\n  ")}\n` +
          `(the checkpoint was trained with the values on the left; ${ONLY_MUTABLE}, as flags). ` +
          `Undo the edit to resume, or train with the new values in a new run: divco train --config ${configPath} --run-dir NEW_DIR`,
      );
    }
  }
  const requested = resolveConfig({
    ...saved,
    ...stripUndefined(user),
    arch: user.arch ?? saved.arch,
  });
  const diff = configDiff(saved, requested);
  if (diff.length) {
    throw new ConfigError(
      `cannot resume ${user.runDir} with a different configuration:\n  ${diff.join("\n  ")}\n(${ONLY_MUTABLE})`,
    );
  }
  return { config: requested, notes };
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
