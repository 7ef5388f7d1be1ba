// Per-epoch metrics of a run, as `metrics.jsonl` (one JSON object per line) and
// `metrics.csv` (for spreadsheets and pandas) in the run directory.
//
// The JSONL file is the record: each row is appended with a single write, so a crash can at
// worst leave a partial last line, which the next open drops. The CSV is derived from it:
// rows whose keys are all known columns are appended; a row that brings a new column (an
// eval metric that starts at some epoch) makes the whole CSV be rewritten with the union of
// columns, atomically (temp + rename), and every open rebuilds it from the JSONL, so it is
// never left inconsistent for longer than a crash.
//
// A resumed run that finds rows missing from the JSONL (a damaged last line, a deleted file) can
// read them back from the CSV with readMetricsCsv before opening the log (which rebuilds the CSV
// from the JSONL) and put them back with insert().
//
// JSON has no NaN/Infinity, and a NaN loss is exactly what a log must keep: non-finite
// numbers are stored as the strings "NaN", "Infinity", "-Infinity" and turned back into
// numbers by readMetrics.
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomicSync } from "../io/atomic.js";

export type MetricValue = number | string | null;
export type MetricsRow = Record<string, MetricValue>;

export const METRICS_JSONL = "metrics.jsonl";
export const METRICS_CSV = "metrics.csv";

/** Appends rows to `<dir>/metrics.jsonl` and keeps `<dir>/metrics.csv` in step with it. */
export class MetricsLog {
  readonly jsonlPath: string;
  readonly csvPath: string;
  private rowList: MetricsRow[];
  private columns: string[];
  /** The cut-short last line found at the end of metrics.jsonl and dropped on open ("" if none). */
  readonly droppedTail: string;

  /** Opens (creating `dir` if needed) and continues an existing log, as a resumed run does. */
  constructor(dir: string) {
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new Error(`cannot create the run directory ${dir}: ${(e as Error).message}`);
    }
    this.jsonlPath = path.join(dir, METRICS_JSONL);
    this.csvPath = path.join(dir, METRICS_CSV);
    const { rows, partialTail } = fs.existsSync(this.jsonlPath)
      ? parseJsonl(readText(this.jsonlPath), this.jsonlPath)
      : { rows: [], partialTail: "" };
    this.rowList = rows;
    this.columns = unionOfKeys(rows);
    this.droppedTail = partialTail;
    // A crashed append left half a line: drop it, or the next row would be glued onto it.
    if (partialTail) this.rewriteJsonl();
    if (rows.length > 0) this.rewriteCsv();
  }

  /** The rows logged so far (decoded, oldest first). */
  get rows(): readonly MetricsRow[] {
    return this.rowList;
  }

  /** Appends a row to both files; `afterJsonl` runs between them (tests kill the process there). */
  append(row: MetricsRow, afterJsonl?: () => void): void {
    checkRow(row);
    appendText(this.jsonlPath, encodeJsonLine(row));
    afterJsonl?.();
    this.rowList.push({ ...row });
    const newColumns = Object.keys(row).filter((k) => !this.columns.includes(k));
    if (newColumns.length > 0 || !fs.existsSync(this.csvPath)) {
      this.columns.push(...newColumns);
      this.rewriteCsv();
    } else {
      appendText(this.csvPath, csvLine(this.columns.map((c) => row[c])));
    }
  }

  /**
   * Drops the rows whose numeric `epoch` is greater than `epoch` (rows without one stay).
   * A run resumed after epoch k calls truncateAfter(k), so the epochs it redoes are not
   * logged twice. Both files are rewritten atomically.
   */
  truncateAfter(epoch: number): void {
    const kept = this.rowList.filter((r) => !(typeof r.epoch === "number" && r.epoch > epoch));
    if (kept.length === this.rowList.length) return;
    this.rowList = kept;
    this.columns = unionOfKeys(kept);
    this.rewriteJsonl();
    this.rewriteCsv();
  }

  /**
   * Adds rows that belong before the last one (recovered from a copy), keeping the rows in
   * epoch order; both files are rewritten atomically.
   */
  insert(rows: readonly MetricsRow[]): void {
    if (rows.length === 0) return;
    rows.forEach(checkRow);
    const epochOf = (r: MetricsRow) => (typeof r.epoch === "number" ? r.epoch : -Infinity);
    // Array.prototype.sort is stable: rows without an epoch keep their place at the front.
    this.rowList = [...this.rowList, ...rows.map((r) => ({ ...r }))].sort(
      (a, b) => epochOf(a) - epochOf(b),
    );
    this.columns = unionOfKeys(this.rowList);
    this.rewriteJsonl();
    this.rewriteCsv();
  }

  private rewriteJsonl(): void {
    writeFileAtomicSync(this.jsonlPath, Buffer.from(this.rowList.map(encodeJsonLine).join("")));
  }

  private rewriteCsv(): void {
    const lines = [
      csvLine(this.columns),
      ...this.rowList.map((r) => csvLine(this.columns.map((c) => r[c]))),
    ];
    writeFileAtomicSync(this.csvPath, Buffer.from(lines.join("")));
  }
}

/**
 * The rows of `<dir>/metrics.jsonl` (or of that file itself when given one), non-finite
 * numbers restored. A partial last line (a run killed mid-write) is ignored; any other bad
 * line throws, naming the file and line.
 */
export function readMetrics(dirOrFile: string): MetricsRow[] {
  const file = dirOrFile.endsWith(".jsonl") ? dirOrFile : path.join(dirOrFile, METRICS_JSONL);
  return parseJsonl(readText(file), file).rows;
}

// ---------------------------------------------------------------- encoding

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

function encodeJsonLine(row: MetricsRow): string {
  return (
    JSON.stringify(row, (_k, v: unknown) =>
      typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
    ) + "\n"
  );
}

function parseJsonl(text: string, file: string): { rows: MetricsRow[]; partialTail: string } {
  const lines = text.split("\n");
  // After the last "\n" comes either nothing or a line whose write was cut short.
  const tail = lines.pop() ?? "";
  const rows: MetricsRow[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(
        `${file}:${i + 1}: not valid JSON (${(e as Error).message}); fix or remove that line`,
      );
    }
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      throw new Error(`${file}:${i + 1}: expected a JSON object per line`);
    }
    for (const [k, v] of Object.entries(row))
      if (typeof v === "string" && v in NON_FINITE) (row as MetricsRow)[k] = NON_FINITE[v];
    rows.push(row as MetricsRow);
  });
  return { rows, partialTail: tail };
}

/**
 * The rows of `<dir>/metrics.csv` (or of that file itself), numbers parsed back exactly (the
 * writer prints them with String()), "NaN"/"inf"/"-inf" as non-finite numbers, empty fields
 * left out. A partial last line is ignored.
 */
export function readMetricsCsv(dirOrFile: string): MetricsRow[] {
  const file = dirOrFile.endsWith(".csv") ? dirOrFile : path.join(dirOrFile, METRICS_CSV);
  const text = readText(file);
  const records = parseCsv(text.slice(0, text.lastIndexOf("\n") + 1));
  const [header, ...body] = records;
  if (!header) return [];
  return body.map((fields, i) => {
    if (fields.length !== header.length)
      throw new Error(
        `${file}: line ${i + 2} has ${fields.length} fields, the header ${header.length}`,
      );
    const row: MetricsRow = {};
    header.forEach((col, j) => {
      const v = fields[j];
      if (v === "") return;
      const n = v in CSV_NON_FINITE ? CSV_NON_FINITE[v] : Number(v);
      row[col] = Number.isNaN(n) && v !== "NaN" ? v : n;
    });
    return row;
  });
}

const CSV_NON_FINITE: Record<string, number> = { NaN: NaN, inf: Infinity, "-inf": -Infinity };

/** RFC 4180 records (quoted fields may hold commas, doubled quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else if (ch === "\n") {
      fields.push(field);
      records.push(fields);
      fields = [];
      field = "";
    } else if (ch !== "\r") field += ch;
  }
  return records;
}

function checkRow(row: MetricsRow): void {
  if (row === null || typeof row !== "object" || Array.isArray(row)) {
    throw new TypeError(`a metrics row must be an object of numbers, strings and nulls`);
  }
  for (const [k, v] of Object.entries(row)) {
    if (k === "") throw new TypeError(`a metrics row has an empty column name`);
    if (v !== null && typeof v !== "number" && typeof v !== "string") {
      throw new TypeError(
        `metrics column "${k}" must be a number, string or null, got ${typeof v}`,
      );
    }
  }
}

function unionOfKeys(rows: readonly MetricsRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/** One RFC 4180 line: fields with a comma, quote or line break are quoted, quotes doubled. */
function csvLine(values: readonly (MetricValue | undefined)[]): string {
  return values.map(csvField).join(",") + "\n";
}

function csvField(v: MetricValue | undefined): string {
  if (v === null || v === undefined) return "";
  // pandas and spreadsheets read these spellings back as floats.
  if (typeof v === "number")
    return Number.isNaN(v) ? "NaN" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : String(v);
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

// ---------------------------------------------------------------- file helpers

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read metrics log ${file}: ${(e as Error).message}`);
  }
}

function appendText(file: string, text: string): void {
  try {
    fs.appendFileSync(file, text);
  } catch (e) {
    throw new Error(`cannot append to metrics log ${file}: ${(e as Error).message}`);
  }
}
