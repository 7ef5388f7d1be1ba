// One error type for every data-pipeline failure, with a machine-readable
// code so the CLI can choose an exit status and tests can match precisely.
// Messages always name the file or value at fault and, for missing data,
// where we looked and how to get it.

export type DataErrorCode =
  | "missing" // dataset files not found
  | "truncated" // file size not what the format requires
  | "corrupt" // file content invalid (bad label, undecodable image, bad MAT element)
  | "checksum" // download does not match its published digest
  | "network" // download failed
  | "argument"; // bad option / policy string / magnitude / split

export class DataError extends Error {
  readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string) {
    super(message);
    this.name = "DataError";
    this.code = code;
  }
}

/** Size check shared by every fixed-record reader. */
export function expectSize(file: string, expected: number, actual: number, what = "bytes"): void {
  if (expected !== actual) {
    throw new DataError(
      "truncated",
      `${file}: expected ${expected} ${what}, found ${actual}` +
        (actual < expected ? " (truncated or incomplete download?)" : " (wrong file?)"),
    );
  }
}
