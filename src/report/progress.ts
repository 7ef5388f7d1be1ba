// Progress of one long loop (an epoch of training, an evaluation pass).
//
// On a terminal: a single line redrawn in place (`\r` + clear-to-end), at most every 100 ms
// so printing never costs the loop noticeable time, cut to the terminal width so it never
// wraps (a wrapped line can no longer be redrawn with `\r`).
// Elsewhere (CI logs, pipes, files), where `\r` would pile up as garbage: a plain line every
// 10 % of the loop or every 30 s, whichever comes first, and a summary line at the end.
//
// ETA comes from an exponentially smoothed rate (time constant 5 s): steady enough not to
// jump around, quick to forget a slow first step (warm-up, allocator growth). Rates count
// only the work done since the first update(), so a loop resumed half way does not
// look fast.

export interface ProgressOptions {
  /** Steps in the loop. */
  total: number;
  /** Printed first on every line, e.g. "epoch 3/200". */
  label: string;
  /** Where to print (default process.stderr, keeping stdout for results). */
  stream?: NodeJS.WritableStream;
  /** Redraw one line in place (default: whether `stream` is a TTY). */
  isTTY?: boolean;
  /** Clock in milliseconds (default performance.now); injectable for tests. */
  now?: () => number;
}

export type ProgressFields = Record<string, number | string>;

const REDRAW_MS = 100;
const PLAIN_EVERY_MS = 30_000;
const PLAIN_PARTS = 10; // a plain line every tenth of the loop
const RATE_TIME_CONSTANT_S = 5;
// Rates over shorter windows are mostly clock and scheduling noise.
const MIN_SAMPLE_S = 0.25;
const BAR_WIDTH = 20;

export class Progress {
  private readonly total: number;
  private readonly label: string;
  private readonly stream: NodeJS.WritableStream;
  private readonly tty: boolean;
  private readonly now: () => number;

  private readonly createdAt: number;
  private startDone: number | undefined; // done at the first update (rate baseline)
  private startTime = 0;
  private current = 0; // the latest `done`
  private sampleDone = 0; // `done` and time at the last rate sample
  private sampleTime = 0;
  private rate: number | undefined; // smoothed steps per second
  private fields: ProgressFields = {};
  private lastDraw = -Infinity;
  private lastPlain: number;
  private lastPlainPart = 0;
  private barShown = false;
  private finished = false;

  constructor(o: ProgressOptions) {
    if (!(o.total >= 0) || !Number.isFinite(o.total))
      throw new RangeError(`progress total must be a count >= 0, got ${o.total}`);
    this.total = o.total;
    this.label = o.label;
    this.stream = o.stream ?? process.stderr;
    this.tty = o.isTTY ?? (this.stream as { isTTY?: boolean }).isTTY === true;
    this.now = o.now ?? (() => performance.now());
    this.createdAt = this.now();
    this.lastPlain = this.createdAt;
  }

  /** `done` steps of `total` are finished; `fields` (loss, img/s, ...) are shown as given. */
  update(done: number, fields: ProgressFields = {}): void {
    if (this.finished) return;
    const t = this.now();
    this.fields = fields;
    this.sampleRate(done, t);
    if (this.tty) {
      if (t - this.lastDraw >= REDRAW_MS || done >= this.total) this.draw(t);
      return;
    }
    const part = this.total > 0 ? Math.floor((PLAIN_PARTS * done) / this.total) : PLAIN_PARTS;
    if (part > this.lastPlainPart || t - this.lastPlain >= PLAIN_EVERY_MS) {
      this.lastPlainPart = Math.max(part, this.lastPlainPart);
      this.lastPlain = t;
      if (done < this.total) this.write(this.statusLine() + "\n"); // the end gets done()'s summary
    }
  }

  /** Prints a whole line; on a terminal the progress line is cleared first and redrawn after. */
  log(line: string): void {
    if (this.tty && this.barShown) {
      this.write(`\r\x1b[K${line}\n`);
      this.barShown = false;
      if (!this.finished) this.draw(this.now());
    } else {
      this.write(line + "\n");
    }
  }

  /** Ends the loop: a final line with elapsed time and mean rate. Later calls do nothing. */
  done(fields: ProgressFields = {}): void {
    if (this.finished) return;
    this.finished = true;
    const t = this.now();
    this.fields = { ...this.fields, ...fields };
    const start = this.startDone === undefined ? this.createdAt : this.startTime;
    const seconds = (t - start) / 1000;
    const steps = this.current - (this.startDone ?? 0);
    const rate = seconds > 0 ? `, ${formatNumber(steps / seconds)} steps/s` : "";
    const line = `${this.label}: ${this.current}/${this.total} in ${formatDuration(seconds)}${rate}${formatFields(this.fields)}`;
    this.write(this.tty ? `\r${this.fit(line)}\x1b[K\n` : line + "\n");
    this.barShown = false;
  }

  private sampleRate(done: number, t: number): void {
    this.current = done;
    if (this.startDone === undefined) {
      this.startDone = this.sampleDone = done;
      this.startTime = this.sampleTime = t;
      return;
    }
    const dt = (t - this.sampleTime) / 1000;
    if (dt < MIN_SAMPLE_S) return; // fold these steps into the next sample
    const instant = (done - this.sampleDone) / dt;
    // Time-weighted EMA: the weight of old samples decays with elapsed time, not with the
    // number of updates, so the estimate does not depend on how often update() is called.
    const keep = Math.exp(-dt / RATE_TIME_CONSTANT_S);
    this.rate = this.rate === undefined ? instant : keep * this.rate + (1 - keep) * instant;
    this.sampleDone = done;
    this.sampleTime = t;
  }

  private eta(): string {
    const left = this.total - this.current;
    if (left <= 0) return "0:00";
    return this.rate && this.rate > 0 ? formatDuration(left / this.rate) : "?";
  }

  private statusLine(): string {
    const pct = this.total > 0 ? Math.floor((100 * this.current) / this.total) : 100;
    return `${this.label} step ${this.current}/${this.total} (${pct}%)${formatFields(this.fields)} | ETA ${this.eta()}`;
  }

  private draw(t: number): void {
    this.lastDraw = t;
    const frac = this.total > 0 ? Math.min(1, Math.max(0, this.current / this.total)) : 1;
    const filled = Math.round(frac * BAR_WIDTH);
    const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
    const line = `${this.label} [${bar}] ${this.current}/${this.total}${formatFields(this.fields)} | ETA ${this.eta()}`;
    this.write(`\r${this.fit(line)}\x1b[K`);
    this.barShown = true;
  }

  /** Cuts a line to the terminal width (minus one column, so the cursor does not wrap). */
  private fit(line: string): string {
    const columns = (this.stream as { columns?: number }).columns;
    return columns && line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line;
  }

  private write(s: string): void {
    this.stream.write(s);
  }
}

function formatFields(fields: ProgressFields): string {
  return Object.entries(fields)
    .map(([k, v]) => ` ${k} ${typeof v === "number" ? formatNumber(v) : v}`)
    .join("");
}

/** Integers as they are, other numbers to 4 significant digits. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  return Number(v.toPrecision(4)).toString();
}

/** Seconds as m:ss, or h:mm:ss from an hour. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
