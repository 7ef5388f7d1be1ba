// The one argument parser of every `divco` subcommand. Each command declares its flags and
// positionals once (type, alias, value name, one-line description, default); parsing, --help
// and usage errors are generated from that declaration, so the help cannot drift from what is
// parsed. A usage error is one line on stderr, `divco <cmd>: <what> (see divco <cmd> --help)`,
// and exit code 2, for every command.
//
// This file must stay free of native imports: `divco data` and `divco --help` never load libtorch.

export type Out = { log: (s: string) => void; err: (s: string) => void };

export const stdio: Out = {
  log: (s) => process.stdout.write(s + "\n"),
  err: (s) => process.stderr.write(s + "\n"),
};

interface FlagCommon {
  /** One-letter alias: `-h`. */
  short?: string;
  /** One line for --help. */
  description: string;
  /** What --help shows as the default when the parser does not apply one (a computed default). */
  defaultText?: string;
}

export interface BooleanFlag extends FlagCommon {
  type: "boolean";
  /** Also accept `--no-<name>`; the value is then undefined when neither is given. */
  negatable?: boolean;
}

export interface StringFlag extends FlagCommon {
  type: "string";
  /** Name of the value in --help: `--arch NAME`. */
  value: string;
  /** Repeatable; the values are collected in order. */
  multiple?: boolean;
  /** Applied when the flag is absent (and shown in --help). */
  default?: string;
  /** The command cannot run without it: parsing fails naming every missing one. */
  required?: boolean;
}

export type FlagSpec = BooleanFlag | StringFlag;

export interface PositionalSpec {
  /** Name in --help and in messages: `DATASET`. */
  name: string;
  description: string;
  required?: boolean;
  /** Takes every remaining argument (last positional only). */
  variadic?: boolean;
  /** Allowed values; anything else is `unknown <noun> "x" (a, b, c)`. */
  choices?: readonly string[];
  /** What a value is called in messages (default: the name). */
  noun?: string;
}

export interface CommandSpec<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  /** The subcommand: `infer`. */
  name: string;
  /** One line under the title. */
  summary: string;
  /** Synopsis forms after `divco <name> `; generated from required flags and positionals if absent. */
  usage?: readonly string[];
  /** Paragraphs between the usage and the options. */
  description?: string;
  positionals?: readonly PositionalSpec[];
  flags: F;
  /** Paragraphs after the options. */
  notes?: string;
}

type FlagValue<F extends FlagSpec> = F extends BooleanFlag
  ? F extends { negatable: true }
    ? boolean | undefined
    : boolean
  : F extends { multiple: true }
    ? string[]
    : F extends { default: string } | { required: true }
      ? string
      : string | undefined;

export type FlagValues<F extends Record<string, FlagSpec>> = {
  -readonly [K in keyof F]: FlagValue<F[K]>;
};

/** The parsed flag values of a declared command: `ValuesOf<typeof INFER>`. */
export type ValuesOf<S> = S extends CommandSpec<infer F> ? FlagValues<F> : never;

export interface Parsed<F extends Record<string, FlagSpec>> {
  values: FlagValues<F>;
  positionals: string[];
}

/** A problem with how the command was called: printed as a usage line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const HELP_FLAG: BooleanFlag = { type: "boolean", short: "h", description: "this text" };

/** Declares a command; `const` keeps the literal flag types so the parsed values are typed. */
export function defineCommand<const F extends Record<string, FlagSpec>>(
  spec: CommandSpec<F>,
): CommandSpec<F> {
  const flags = spec.flags as Record<string, FlagSpec>;
  if ("help" in flags) throw new Error(`divco ${spec.name}: --help is added by the parser`);
  const shorts = new Set<string>(["h"]);
  for (const [name, f] of Object.entries(flags)) {
    if (f.short !== undefined) {
      if (shorts.has(f.short)) throw new Error(`divco ${spec.name}: -${f.short} is used twice`);
      shorts.add(f.short);
    }
    if (f.type === "boolean" && f.negatable && `no-${name}` in flags)
      throw new Error(`divco ${spec.name}: --no-${name} is declared twice`);
  }
  const pos = spec.positionals ?? [];
  if (pos.slice(0, -1).some((p) => p.variadic))
    throw new Error(`divco ${spec.name}: only the last positional can be variadic`);
  return spec;
}

/** Whether the parser reads this token as a flag (so it cannot be the value of the flag before it). */
function looksLikeFlag(token: string, shorts: Map<string, string>): boolean {
  return token.startsWith("--") || (token.length === 2 && token[0] === "-" && shorts.has(token[1]));
}

/**
 * Parses argv against the spec. Returns "help" when --help/-h was given; throws UsageError for an
 * unknown flag, a missing or unexpected value, a missing required flag or a bad positional.
 */
export function parseArgv<F extends Record<string, FlagSpec>>(
  spec: CommandSpec<F>,
  argv: readonly string[],
): Parsed<F> | "help" {
  const flags: Record<string, FlagSpec> = { ...spec.flags, help: HELP_FLAG };
  const shorts = new Map<string, string>();
  for (const [name, f] of Object.entries(flags))
    if (f.short !== undefined) shorts.set(f.short, name);
  const values: Record<string, string | boolean | string[] | undefined> = {};
  const negated = new Set<string>();
  const asserted = new Set<string>();
  const positionals: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (onlyPositionals || token === "-" || !token.startsWith("-") || /^-\d/.test(token)) {
      positionals.push(token);
      continue;
    }
    if (token === "--") {
      onlyPositionals = true;
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      name = eq < 0 ? token.slice(2) : token.slice(2, eq);
      inline = eq < 0 ? undefined : token.slice(eq + 1);
    } else {
      const long = token.length === 2 ? shorts.get(token[1]) : undefined;
      if (long === undefined) throw new UsageError(`unknown flag ${token}`);
      name = long;
    }
    // Own properties only: `--constructor` is an unknown flag, not Object.prototype's.
    const declared = (n: string) => (Object.hasOwn(flags, n) ? flags[n] : undefined);
    let flag = declared(name);
    let value = true;
    if (flag === undefined && name.startsWith("no-")) {
      const base = declared(name.slice(3));
      if (base?.type === "boolean" && base.negatable) {
        name = name.slice(3);
        flag = base;
        value = false;
      }
    }
    if (flag === undefined) throw new UsageError(`unknown flag --${name}`);
    if (flag.type === "boolean") {
      if (inline !== undefined)
        throw new UsageError(`--${value ? "" : "no-"}${name} takes no value`);
      (value ? asserted : negated).add(name);
      if (asserted.has(name) && negated.has(name))
        throw new UsageError(`--${name} and --no-${name} contradict each other`);
      values[name] = value;
      continue;
    }
    let v = inline;
    if (v === undefined) {
      if (i + 1 >= argv.length || looksLikeFlag(argv[i + 1], shorts))
        throw new UsageError(`--${name} needs a value (${flag.value})`);
      v = argv[++i];
    }
    if (flag.multiple) ((values[name] ??= []) as string[]).push(v);
    else values[name] = v; // the last one wins, so a wrapper script can override a flag
  }
  if (values.help) return "help";
  delete values.help;
  const missing: string[] = [];
  for (const [name, f] of Object.entries(spec.flags as Record<string, FlagSpec>)) {
    if (f.type === "boolean") {
      if (!f.negatable) values[name] ??= false;
    } else if (f.multiple) values[name] ??= [];
    else if (values[name] === undefined) {
      if (f.default !== undefined) values[name] = f.default;
      else if (f.required) missing.push(`--${name}`);
    }
  }
  if (missing.length) throw new UsageError(`missing ${missing.join(", ")}`);
  checkPositionals(spec.positionals ?? [], positionals);
  return { values: values as FlagValues<F>, positionals };
}

function checkPositionals(specs: readonly PositionalSpec[], given: string[]): void {
  specs.forEach((p, i) => {
    const vals = p.variadic ? given.slice(i) : given.slice(i, i + 1);
    if (vals.length === 0 && p.required) {
      throw new UsageError(
        `missing ${p.noun ?? p.name}${p.choices ? ` (${p.choices.join(", ")})` : ""}`,
      );
    }
    for (const v of vals) {
      if (p.choices && !p.choices.includes(v))
        throw new UsageError(`unknown ${p.noun ?? p.name} "${v}" (${p.choices.join(", ")})`);
    }
  });
  const max = specs.at(-1)?.variadic ? Infinity : specs.length;
  if (given.length > max) {
    const extra = given.slice(max);
    throw new UsageError(`unexpected argument${extra.length > 1 ? "s" : ""}: ${extra.join(" ")}`);
  }
}

/** The flag as --help shows it: `-h, --help`, `--arch NAME`, `--[no-]nesterov`. */
function flagLabel(name: string, f: FlagSpec): string {
  const long =
    f.type === "boolean" ? (f.negatable ? `--[no-]${name}` : `--${name}`) : `--${name} ${f.value}`;
  return f.short ? `-${f.short}, ${long}` : long;
}

/** What --help shows in the default column: the applied default, "required", or nothing. */
export function defaultLabel(f: FlagSpec): string {
  if (f.defaultText !== undefined) return f.defaultText;
  if (f.type === "string" && f.default !== undefined) return f.default;
  if (f.type === "string" && f.required) return "required";
  return "";
}

/** The synopsis forms: the spec's own, or one built from its required flags and positionals. */
export function usageForms(spec: CommandSpec): string[] {
  if (spec.usage) return [...spec.usage];
  const parts: string[] = [];
  for (const [name, f] of Object.entries(spec.flags))
    if (f.type === "string" && f.required) parts.push(`--${name} ${f.value}`);
  for (const p of spec.positionals ?? []) {
    const word = `${p.name}${p.variadic ? " ..." : ""}`;
    parts.push(p.required ? word : `[${word}]`);
  }
  parts.push("[options]");
  return [parts.join(" ")];
}

/** Help lines are wrapped to the project's line width. */
const HELP_WIDTH = 100;

/** Splits text into lines of at most `width` characters at spaces (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}

/** The --help text: title, usage, description, arguments, options in aligned columns, notes. */
export function formatHelp(spec: CommandSpec): string {
  const forms = usageForms(spec);
  const lines = [`divco ${spec.name} — ${spec.summary}`, ""];
  const command = `divco ${spec.name}`;
  forms.forEach((form, i) => {
    // A form that starts with a space continues the one before it.
    const start = form.startsWith(" ") ? " ".repeat(command.length) : command;
    lines.push(`${i === 0 ? "Usage:" : "      "} ${start} ${form.trimStart()}`);
  });
  if (spec.description) lines.push("", spec.description.trimEnd());
  const pos = spec.positionals ?? [];
  if (pos.length) {
    const w = Math.max(...pos.map((p) => p.name.length));
    lines.push("", "Arguments:");
    for (const p of pos) {
      const choices = p.choices ? ` (${p.choices.join(", ")})` : "";
      lines.push(`  ${p.name.padEnd(w)}  ${p.description}${choices}`);
    }
  }
  const all: Record<string, FlagSpec> = { ...spec.flags, help: HELP_FLAG };
  const rows = Object.entries(all).map(([name, f]) => ({
    label: flagLabel(name, f),
    def: defaultLabel(f),
    text: f.type === "string" && f.multiple ? `${f.description} (repeatable)` : f.description,
  }));
  const lw = Math.max(...rows.map((r) => r.label.length));
  // The default column (headed "default") only where some flag has one.
  const dw = rows.some((r) => r.def)
    ? Math.max("default".length, ...rows.map((r) => r.def.length)) + 2
    : 0;
  lines.push("", dw ? `${"Options:".padEnd(lw + 4)}default` : "Options:");
  const indent = lw + 4 + dw;
  for (const r of rows) {
    const [first, ...rest] = wrap(r.text, Math.max(HELP_WIDTH - indent, 40));
    lines.push(`  ${r.label.padEnd(lw)}  ${dw ? r.def.padEnd(dw) : ""}${first}`);
    for (const more of rest) lines.push(" ".repeat(indent) + more);
  }
  if (spec.notes) lines.push("", spec.notes.trimEnd());
  return lines.join("\n") + "\n";
}

/** Prints the usage line for `msg` and returns exit code 2. */
export function reportUsage(command: string, msg: string, out: Out): number {
  out.err(`divco ${command}: ${msg} (see divco ${command} --help)`);
  return 2;
}

type ErrorClass = abstract new (...args: never[]) => Error;

export interface RunOptions {
  /** Error classes that, thrown by the body, are usage errors too (e.g. ArchError, ConfigError). */
  usageErrors?: readonly ErrorClass[];
}

/**
 * Parses argv and runs the command body: --help prints the generated help (exit 0); a parse
 * error, or a UsageError (or one of `usageErrors`) thrown by the body, prints one usage line
 * (exit 2). Anything else the body throws propagates.
 */
export async function runCommand<F extends Record<string, FlagSpec>>(
  spec: CommandSpec<F>,
  argv: readonly string[],
  out: Out,
  body: (args: Parsed<F>) => number | Promise<number>,
  opts: RunOptions = {},
): Promise<number> {
  const isUsage = (e: unknown): e is Error =>
    e instanceof UsageError || (opts.usageErrors ?? []).some((c) => e instanceof c);
  let parsed: Parsed<F> | "help";
  try {
    parsed = parseArgv(spec, argv);
  } catch (e) {
    if (isUsage(e)) return reportUsage(spec.name, e.message, out);
    throw e;
  }
  if (parsed === "help") {
    out.log(formatHelp(spec).trimEnd());
    return 0;
  }
  try {
    return await body(parsed);
  } catch (e) {
    if (isUsage(e)) return reportUsage(spec.name, e.message, out);
    throw e;
  }
}

/** An integer flag value ≥ min; anything else is a usage error naming the flag. */
export function intFlag(flag: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(
      `--${flag} takes ${min === 1 ? "a positive integer" : `an integer ≥ ${min}`}, got "${raw}"`,
    );
  }
  return n;
}
