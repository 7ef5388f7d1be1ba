// A run's per-epoch record: one metrics row per evaluated epoch, appended to metrics.jsonl /
// metrics.csv and to TensorBoard's event file, and one printed summary line.
import { join } from "node:path";
import { EventWriter } from "../report/tensorboard.js";
import { MetricsLog } from "../report/metrics_log.js";
import { epochLine, type EpochInfo } from "./epoch_stats.js";

export class EpochLog {
  private constructor(
    private readonly metrics: MetricsLog,
    private readonly events: EventWriter,
    private readonly epochs: number,
    private readonly out: NodeJS.WritableStream | null,
  ) {}

  /**
   * Opens the run directory's logs to continue from epoch `startEpoch` (0-based: the next to
   * run). Whatever was logged past it belongs to a session that crashed after logging and is
   * about to be redone, so it is dropped.
   */
  static open(
    runDir: string,
    startEpoch: number,
    epochs: number,
    out: NodeJS.WritableStream | null,
  ): EpochLog {
    const metrics = new MetricsLog(runDir);
    // Rows are numbered by finished epoch (1-based).
    metrics.truncateAfter(startEpoch);
    const events = new EventWriter(join(runDir, "tensorboard"));
    // Scalars are logged at step = epoch number; TensorBoard drops a crashed session's points at
    // or after the step where the new session starts.
    events.sessionStart(startEpoch + 1);
    return new EpochLog(metrics, events, epochs, out);
  }

  /** Appends the epoch's row (every key but epoch and step also as a TensorBoard scalar) and prints its line. */
  write(info: EpochInfo, row: Record<string, number>): void {
    this.metrics.append(row);
    for (const [k, v] of Object.entries(row))
      if (k !== "epoch" && k !== "step") this.events.scalar(k, v, info.epoch + 1);
    this.events.flush();
    this.out?.write(epochLine(info, this.epochs));
  }

  close(): void {
    this.events.close();
  }
}
