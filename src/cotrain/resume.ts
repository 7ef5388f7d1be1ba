// Where a resumed run continues, and repairing what an interruption left unfinished.
//
// planResume reads every checkpoint of the run (last, best, epoch-NNNN), checks each whole, and
// picks the newest intact one — normally `last`; after a crash or damage, whichever survived —
// saying which and why. It refuses, naming every problem, rather than start over in a directory
// that holds checkpoints or logged epochs it cannot continue from: nothing a run produced is
// thrown away silently. Reading only; the repairs (repairRunDir) are made by the process that
// holds the run directory's lock, once the run is built: stale temporary files removed, missing
// or stale .json copies rewritten, `best` and the newest epoch copy rebuilt when the crash came
// before they were copied, old epochs pruned.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  CheckpointError,
  checkpointPaths,
  copyCheckpoint,
  readCheckpoint,
  sidecarStale,
  writeSidecar,
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
} from "../io/run_checkpoint.js";
import { epochCheckpointName, keptEpochs, type RunState } from "./run_checkpoints.js";
import { METRICS_JSONL, readMetrics } from "../report/metrics_log.js";

/** One checkpoint of a run: its metadata when it is intact, else what is wrong with it. */
export interface CheckpointStatus {
  name: string;
  meta?: CheckpointMeta;
  error?: CheckpointError;
}

const CHECKPOINT_FILE = /^(last|best|epoch-\d{4,})\.(?:safetensors|json)$/;

/** Every checkpoint in `dir` (either of its files present), each read whole and checked. */
export function surveyCheckpoints(dir: string): CheckpointStatus[] {
  if (!existsSync(dir)) return [];
  const names = new Set<string>();
  for (const f of readdirSync(dir)) {
    const m = CHECKPOINT_FILE.exec(f);
    if (m) names.add(m[1]);
  }
  return [...names].sort().map((name) => {
    try {
      return { name, meta: readCheckpoint(dir, name).meta };
    } catch (e) {
      if (e instanceof CheckpointError) return { name, error: e };
      throw e;
    }
  });
}

/** "epoch 2 finished" or "epoch 3, batch 4" (1-based, as printed everywhere else). */
export function describePosition(m: Pick<CheckpointMeta, "epoch" | "batchIndex">): string {
  return m.batchIndex === 0
    ? `epoch ${m.epoch} finished`
    : `epoch ${m.epoch + 1}, batch ${m.batchIndex}`;
}

const order = (m: CheckpointMeta) => [m.epoch, m.batchIndex, m.step];
// On equal positions (copies of one save) prefer `last`, then the epoch copy, then `best`.
const preference = (name: string) => (name === "last" ? 0 : name === "best" ? 2 : 1);

/** The intact checkpoint with the furthest position. */
export function newestIntact(
  survey: readonly CheckpointStatus[],
): { name: string; meta: CheckpointMeta } | undefined {
  let best: { name: string; meta: CheckpointMeta } | undefined;
  for (const s of survey) {
    if (!s.meta) continue;
    if (!best) {
      best = { name: s.name, meta: s.meta };
      continue;
    }
    const [a, b] = [order(s.meta), order(best.meta)];
    const cmp = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    if (cmp > 0 || (cmp === 0 && preference(s.name) < preference(best.name)))
      best = { name: s.name, meta: s.meta };
  }
  return best;
}

/** A run directory that `--resume` cannot continue without losing what it holds. */
export class ResumeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResumeRefusedError";
  }
}

export interface ResumePlan {
  /** The checkpoint to continue from; absent when none was committed yet (the run starts over). */
  from?: { name: string; meta: CheckpointMeta };
  survey: CheckpointStatus[];
  /** What the user is told: where the run continues from, and why not from `last`. */
  notes: string[];
}

/** Chooses where the run in `runDir` continues (reads only); throws ResumeRefusedError when it cannot. */
export function planResume(runDir: string): ResumePlan {
  const dir = join(runDir, "checkpoints");
  const survey = surveyCheckpoints(dir);
  const from = newestIntact(survey);
  const problems = survey.filter((s) => s.error).map((s) => s.error!.message);
  const notes: string[] = [];
  if (from) {
    const file = join("checkpoints", `${from.name}.safetensors`);
    notes.push(`resuming from ${file} (${describePosition(from.meta)})`);
    for (const p of problems) notes.push(`  skipped: ${p}`);
    if (from.meta.format !== CHECKPOINT_FORMAT)
      notes.push(
        `  ${file} is a format-1 checkpoint of an earlier divco; new checkpoints are written in format 2`,
      );
    return { from, survey, notes };
  }
  // Nothing to continue from. Starting over is right only when nothing was committed yet: no
  // checkpoint file at all, and at most epoch 1's row logged (a crash between logging epoch 1
  // and its first checkpoint) — which the new start logs again, identically.
  const logged = existsSync(join(runDir, METRICS_JSONL)) ? readMetrics(runDir) : [];
  const furthest = Math.max(0, ...logged.map((r) => (typeof r.epoch === "number" ? r.epoch : 0)));
  if (survey.length === 0 && furthest <= 1) {
    notes.push("no checkpoint was committed yet: the run starts from epoch 1");
    return { survey, notes };
  }
  const what = [
    ...problems,
    ...(survey.length === 0 ? [`${dir} holds no checkpoint`] : []),
    ...(furthest > 0 ? [`metrics.jsonl has rows up to epoch ${furthest}`] : []),
  ];
  throw new ResumeRefusedError(
    `cannot resume ${runDir}: no intact checkpoint to continue from.\n  ${what.join("\n  ")}\n` +
      `Nothing was changed. Restore the checkpoints from a backup, or keep this directory as it ` +
      `is and train anew in another one: divco train --config ${join(runDir, "config.json")} --run-dir NEW_DIR`,
  );
}

// Temporary files of atomic writes (io/atomic.ts: ".<name>.<pid>.<hex>.tmp") and of the copies
// format-1 versions made ("<name>.tmp"). Under the run's lock no other process is writing, so
// every one of them is left over from a crash.
const TEMP_FILE =
  /^(?:\..+\.\d+\.[0-9a-f]{12}\.tmp|(?:last|best|epoch-\d{4,})\.(?:safetensors|json)\.tmp)$/;

/** Removes crash leftovers from `dir`; returns how many. */
function removeTempFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir)) {
    if (TEMP_FILE.test(f)) {
      rmSync(join(dir, f), { force: true });
      n++;
    }
  }
  return n;
}

/**
 * Repairs the run directory of a resumed run after `planResume` (call it holding the lock, at
 * `state` = the restored position): temp files, .json copies, `best`, the newest epoch copy and
 * pruning. Returns what it did, for the user.
 */
export function repairRunDir(
  runDir: string,
  plan: ResumePlan,
  state: RunState,
  keepLast: number,
): string[] {
  const dir = join(runDir, "checkpoints");
  const notes: string[] = [];
  const temps = removeTempFiles(runDir) + removeTempFiles(dir);
  if (temps > 0) notes.push(`removed ${temps} temporary file(s) left by an interrupted write`);

  const intact = new Map(plan.survey.filter((s) => s.meta).map((s) => [s.name, s.meta!]));
  // A checkpoint saved at the end of epoch E (batchIndex 0, E ≥ 1) to copy from, preferring the one resumed from.
  const atEpochEnd = (e: number): string | undefined => {
    const names = [plan.from?.name, "last", epochCheckpointName(e), "best"];
    return names.find((n) => n && intact.get(n)?.epoch === e && intact.get(n)?.batchIndex === 0);
  };
  const rebuild = (to: string, e: number, why: string) => {
    const src = atEpochEnd(e);
    if (!src) return false;
    copyCheckpoint(dir, src, to, intact.get(src)!);
    intact.set(to, intact.get(src)!);
    notes.push(`rebuilt ${join("checkpoints", `${to}.safetensors`)} from ${src} (${why})`);
    return true;
  };

  const bestEpoch = state.bestEpoch;
  const best = intact.get("best");
  if (bestEpoch >= 1 && !(best && best.epoch === bestEpoch && best.batchIndex === 0)) {
    const why = `epoch ${bestEpoch} is the best so far`;
    if (!rebuild("best", bestEpoch, why))
      notes.push(
        `checkpoints/best.safetensors ${best ? `holds epoch ${best.epoch}` : "is missing or damaged"}, but ${why} and its checkpoint is gone; best is written again when a later epoch beats ${state.bestAcc1}%`,
      );
  }

  const epoch = state.position.epoch;
  if (keepLast > 0 && epoch >= 1 && state.position.batchIndex === 0) {
    const name = epochCheckpointName(epoch);
    if (!intact.has(name)) rebuild(name, epoch, `the copy of epoch ${epoch} was not made`);
    for (const n of keptEpochs(dir)) {
      if (n <= epoch - keepLast) {
        const p = checkpointPaths(dir, epochCheckpointName(n));
        rmSync(p.meta, { force: true });
        rmSync(p.tensors, { force: true });
        intact.delete(epochCheckpointName(n));
        notes.push(
          `removed ${epochCheckpointName(n)} (keepLast ${keepLast} keeps epochs after ${epoch - keepLast})`,
        );
      }
    }
  }

  for (const [name, meta] of intact) {
    if (meta.format === CHECKPOINT_FORMAT && sidecarStale(dir, name, meta)) {
      writeSidecar(dir, name, meta);
      notes.push(
        `rewrote ${join("checkpoints", `${name}.json`)} (the readable copy of ${name}.safetensors' metadata)`,
      );
    }
  }
  return notes;
}
