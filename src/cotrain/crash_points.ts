// Named points of the end-of-epoch write sequence where a test can kill the process, to check
// that a run killed at any of them resumes (tests set DIVCO_TEST_CRASH_AT; nothing else does).
// "NAME" kills at the first time the point is reached, "NAME#N" at the N-th (epoch 2's save is
// "last:renamed#2" when no stop saved `last` mid-epoch before it). The process dies by SIGKILL,
// as with kill -9: no handler, finally block or exit hook runs.

/** The points, in the order an epoch's end reaches them. */
export const CRASH_POINTS = [
  /** The epoch's row is appended to metrics.jsonl; metrics.csv not yet. */
  "log:jsonl",
  /** metrics.csv is updated; TensorBoard's events not yet flushed. */
  "log:csv",
  /** TensorBoard's events are flushed; no checkpoint of the epoch yet. */
  "log:tensorboard",
  /** last's temporary file is written and fsynced, not yet renamed into place. */
  "last:written",
  /** last.safetensors is in place (the checkpoint is committed); its last.json copy not yet. */
  "last:renamed",
  /** best's temporary copy is written, not yet renamed. */
  "best:written",
  /** best.safetensors is in place; best.json not yet. */
  "best:renamed",
  /** epoch-NNNN's temporary copy is written, not yet renamed. */
  "epoch:written",
  /** epoch-NNNN.safetensors is in place; its .json not yet. */
  "epoch:renamed",
  /** An old epoch checkpoint's .json is removed, its .safetensors not yet. */
  "prune:sidecar-removed",
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

const reached = new Map<string, number>();

/** Kills this process (SIGKILL) when DIVCO_TEST_CRASH_AT names `point` and this is the requested visit. */
export function crashPoint(point: CrashPoint): void {
  const want = process.env.DIVCO_TEST_CRASH_AT;
  if (!want || !want.startsWith(point)) return;
  const [name, nth = "1"] = want.split("#");
  if (name !== point) return;
  const visit = (reached.get(point) ?? 0) + 1;
  reached.set(point, visit);
  if (visit === Number(nth)) process.kill(process.pid, "SIGKILL");
}
