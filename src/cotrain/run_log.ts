// A run's per-epoch record: one metrics row per evaluated epoch, appended to metrics.jsonl /
// metrics.csv and to TensorBoard's event file, and one printed summary line.
//
// On resume the log is made whole again before the run continues: rows logged past the resumed
// checkpoint (a crash after logging, before saving) are dropped, because those epochs run again;
// rows missing up to it (a cut-short last line, a deleted line or file) are recovered from the
// other copies — metrics.csv (exact), the checkpoints' own copy of their epoch's row (exact), or
// TensorBoard (float32) — and every change is reported.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EventWriter, readScalars } from "../report/tensorboard.js";
import { MetricsLog, readMetricsCsv, METRICS_CSV, type MetricsRow } from "../report/metrics_log.js";
import { crashPoint } from "./crash_points.js";
import { epochLine, type EpochInfo } from "./epoch_stats.js";

export interface EpochLogOptions {
  /** Rows the checkpoints hold, by epoch number (1-based): a source to recover missing rows from. */
  checkpointRows?: ReadonlyMap<number, MetricsRow>;
}

export class EpochLog {
  /** What opening the log repaired or could not, for the user. */
  readonly notes: string[];

  private constructor(
    private readonly metrics: MetricsLog,
    private readonly events: EventWriter,
    private readonly epochs: number,
    private readonly out: NodeJS.WritableStream | null,
    notes: string[],
  ) {
    this.notes = notes;
  }

  /**
   * Opens the run directory's logs to continue from epoch `startEpoch` (0-based: the next to
   * run; rows 1..startEpoch are expected): rows past it are dropped, missing ones recovered.
   */
  static open(
    runDir: string,
    startEpoch: number,
    epochs: number,
    out: NodeJS.WritableStream | null,
    opts: EpochLogOptions = {},
  ): EpochLog {
    const notes: string[] = [];
    // Read before MetricsLog rebuilds the CSV from the JSONL, which may be the damaged one.
    let csvRows: MetricsRow[] = [];
    if (startEpoch > 0 && existsSync(join(runDir, METRICS_CSV))) {
      try {
        csvRows = readMetricsCsv(runDir);
      } catch (e) {
        notes.push(
          `metrics.csv cannot be read (${(e as Error).message}); not used to recover rows`,
        );
      }
    }
    const metrics = new MetricsLog(runDir);
    if (metrics.droppedTail)
      notes.push(
        `metrics.jsonl ended in a cut-short line (${Buffer.byteLength(metrics.droppedTail)} bytes: ${JSON.stringify(metrics.droppedTail.slice(0, 40))}…), removed`,
      );
    const logged = epochsOf(metrics.rows);
    // Rows are numbered by finished epoch (1-based).
    metrics.truncateAfter(startEpoch);
    const redone = logged.filter((e) => e > startEpoch);
    if (redone.length)
      notes.push(
        `metrics rows of epoch${redone.length > 1 ? "s" : ""} ${redone.join(", ")} were logged after the checkpoint resumed from; ${redone.length > 1 ? "those epochs run" : "that epoch runs"} again`,
      );
    recoverMissing(runDir, metrics, startEpoch, csvRows, opts.checkpointRows, notes);
    const events = new EventWriter(join(runDir, "tensorboard"));
    // Scalars are logged at step = epoch number; TensorBoard drops a crashed session's points at
    // or after the step where the new session starts.
    events.sessionStart(startEpoch + 1);
    return new EpochLog(metrics, events, epochs, out, notes);
  }

  /** Appends the epoch's row (every key but epoch and step also as a TensorBoard scalar) and prints its line. */
  write(info: EpochInfo, row: Record<string, number>): void {
    this.metrics.append(row, () => crashPoint("log:jsonl"));
    crashPoint("log:csv");
    for (const [k, v] of Object.entries(row))
      if (k !== "epoch" && k !== "step") this.events.scalar(k, v, info.epoch + 1);
    this.events.flush();
    crashPoint("log:tensorboard");
    this.out?.write(epochLine(info, this.epochs));
  }

  close(): void {
    this.events.close();
  }
}

function epochsOf(rows: readonly MetricsRow[]): number[] {
  return rows.map((r) => r.epoch).filter((e): e is number => typeof e === "number");
}

/** Puts back the rows of epochs 1..upTo missing from `metrics`, from the first copy that has each. */
function recoverMissing(
  runDir: string,
  metrics: MetricsLog,
  upTo: number,
  csvRows: readonly MetricsRow[],
  checkpointRows: ReadonlyMap<number, MetricsRow> | undefined,
  notes: string[],
): void {
  const have = new Set(epochsOf(metrics.rows));
  const missing = Array.from({ length: upTo }, (_, i) => i + 1).filter((e) => !have.has(e));
  if (missing.length === 0) return;
  let scalars: ReturnType<typeof readScalars> | undefined;
  const fromTensorBoard = (e: number): MetricsRow | undefined => {
    if (scalars === undefined) {
      try {
        scalars = readScalars(join(runDir, "tensorboard"));
      } catch {
        scalars = {};
      }
    }
    const row: MetricsRow = { epoch: e };
    for (const [tag, points] of Object.entries(scalars)) {
      const p = points.filter((q) => q.step === e).pop();
      if (p) row[tag] = p.value;
    }
    return Object.keys(row).length > 1 ? row : undefined;
  };
  const recovered: MetricsRow[] = [];
  const bySource = new Map<string, number[]>();
  const lost: number[] = [];
  for (const e of missing) {
    let row: MetricsRow | undefined;
    let source: string;
    if ((row = csvRows.find((r) => r.epoch === e))) source = "metrics.csv";
    else if ((row = checkpointRows?.get(e))) source = "the checkpoint of that epoch";
    else if ((row = fromTensorBoard(e)))
      source = "TensorBoard's events (float32 precision, no step column)";
    else {
      lost.push(e);
      continue;
    }
    recovered.push(row);
    bySource.set(source, [...(bySource.get(source) ?? []), e]);
  }
  metrics.insert(recovered);
  for (const [source, es] of bySource)
    notes.push(
      `metrics.jsonl lacked the row${es.length > 1 ? "s" : ""} of epoch${es.length > 1 ? "s" : ""} ${es.join(", ")}; recovered from ${source}`,
    );
  if (lost.length)
    notes.push(
      `metrics.jsonl lacks the row${lost.length > 1 ? "s" : ""} of epoch${lost.length > 1 ? "s" : ""} ${lost.join(", ")}, and no copy has ${lost.length > 1 ? "them" : "it"} (metrics.csv, checkpoints, TensorBoard): ${lost.length > 1 ? "they stay" : "it stays"} missing`,
    );
}
