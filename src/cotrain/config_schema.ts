// Checking configuration values against a declarative description of each key (its type,
// range or allowed values, whether null is allowed, the element type of a list). The table of
// every TrainConfig key is CONFIG_SCHEMA in config.ts; this file is the checking and the one
// message style: `<where the value came from>: expected <what is accepted>, got <the value>`,
// where the origin is a flag (`--epochs`) or a key of a JSON file or object
// (`config file c.json key "epochs"`).

/** A configuration value that is not accepted; a usage error (exit code 2) in the CLI. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** What one config key accepts. */
export type KeySpec = (
  | { type: "integer"; min: number; max?: number }
  | {
      type: "number";
      min: number;
      max?: number;
      /** the maximum itself is not allowed */ belowMax?: boolean;
    }
  | { type: "boolean" }
  | { type: "enum"; values: readonly string[] }
  | {
      type: "string";
      nonEmpty?: boolean;
      pattern?: RegExp;
      /** what the pattern accepts, in words */ accepts?: string;
    }
  | { type: "integerList"; min: number; /** shown in the message */ example: readonly number[] }
) & {
  /** null is allowed (written "none" on the command line). */
  nullable?: boolean;
  /** A further check of an accepted value: what is wrong with it, or undefined. */
  check?: (value: never) => string | undefined;
};

/** Where a value came from: a command-line flag, or a key of a JSON file or object. */
export type ValueOrigin = { kind: "flag"; flag: string } | { kind: "json"; where: string };

const where = (o: ValueOrigin) => (o.kind === "flag" ? o.flag : o.where);

/** What `spec` accepts, in words, as it is written on the command line or in JSON. */
export function accepted(spec: KeySpec, form: ValueOrigin["kind"]): string {
  let text: string;
  switch (spec.type) {
    case "integer":
      text =
        spec.max === undefined
          ? `an integer ≥ ${spec.min}`
          : `an integer from ${spec.min} to ${spec.max}`;
      break;
    case "number":
      text =
        spec.max === undefined
          ? `a number ≥ ${spec.min}`
          : spec.belowMax
            ? `a number ≥ ${spec.min} and below ${spec.max}`
            : `a number from ${spec.min} to ${spec.max}`;
      break;
    case "boolean":
      text = "true or false";
      break;
    case "enum":
      text = `one of ${spec.values.join(", ")}`;
      break;
    case "string":
      text = spec.accepts ?? (spec.nonEmpty ? "a non-empty string" : "a string");
      break;
    case "integerList":
      text =
        form === "flag"
          ? `comma-separated integers ≥ ${spec.min} such as ${spec.example.join(",")}`
          : `a list of integers ≥ ${spec.min} such as ${JSON.stringify(spec.example)}`;
      break;
  }
  return spec.nullable ? `${text}, or ${form === "flag" ? "none" : "null"}` : text;
}

const isInteger = (v: unknown, min: number): v is number =>
  Number.isSafeInteger(v) && (v as number) >= min;

/** Whether `value` has the type and lies in the range or set `spec` describes. */
export function fits(spec: KeySpec, value: unknown): boolean {
  if (value === null) return spec.nullable === true;
  switch (spec.type) {
    case "integer":
      return isInteger(value, spec.min) && (spec.max === undefined || value <= spec.max);
    case "number":
      return (
        typeof value === "number" &&
        Number.isFinite(value) &&
        value >= spec.min &&
        (spec.max === undefined || (spec.belowMax ? value < spec.max : value <= spec.max))
      );
    case "boolean":
      return typeof value === "boolean";
    case "enum":
      return typeof value === "string" && spec.values.includes(value);
    case "string":
      return (
        typeof value === "string" &&
        (!spec.nonEmpty || value !== "") &&
        (spec.pattern === undefined || spec.pattern.test(value))
      );
    case "integerList":
      return Array.isArray(value) && value.every((x) => isInteger(x, spec.min));
  }
}

/** The value as the message shows it: JSON for JSON origins, the typed text for flags. */
function shown(value: unknown, o: ValueOrigin): string {
  if (o.kind === "flag" && typeof value === "string") return `"${value}"`;
  // JSON has no NaN or Infinity (a library caller's object can hold them), nor undefined.
  if (value === undefined || (typeof value === "number" && !Number.isFinite(value)))
    return String(value);
  return JSON.stringify(value);
}

/**
 * Throws a ConfigError naming the origin, what is accepted and the value, unless `value` fits
 * `spec` (and its further check). A JSON string that would fit without its quotes gets a hint.
 */
export function checkValue(spec: KeySpec, value: unknown, o: ValueOrigin): void {
  if (!fits(spec, value)) {
    let hint = "";
    if (o.kind === "json" && typeof value === "string" && value.trim() !== "") {
      let unquoted: unknown;
      try {
        unquoted = JSON.parse(value);
      } catch {
        unquoted = undefined;
      }
      if (unquoted !== undefined && typeof unquoted !== "string" && fits(spec, unquoted))
        hint = ` (a string: write ${value.trim()} without quotes)`;
    }
    throw new ConfigError(
      `${where(o)}: expected ${accepted(spec, o.kind)}, got ${shown(value, o)}${hint}`,
    );
  }
  if (value !== null && spec.check) {
    const problem = spec.check(value as never);
    if (problem !== undefined) throw new ConfigError(`${where(o)}: ${problem}`);
  }
}

/** A name written the way a user might mistype a key: lower case, without - and _. */
const loose = (k: string) => k.toLowerCase().replace(/[-_]/g, "");

/**
 * Throws a ConfigError for keys not in `known`, suggesting the key each probably meant; `source`
 * names the file they came from (none: a caller's object).
 */
export function checkKnownKeys(
  keys: readonly string[],
  known: readonly string[],
  source?: string,
): void {
  const unknown = keys.filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const named = unknown.map((k) => {
    const near = known.find((n) => loose(n) === loose(k));
    return near ? `${k} (did you mean ${near}?)` : k;
  });
  const s = unknown.length > 1 ? "s" : "";
  throw new ConfigError(
    `${source ? `${source}: unknown key${s} ` : `unknown config key${s}: `}${named.join(", ")} (keys are the camelCase names of the options in divco train --help)`,
  );
}
