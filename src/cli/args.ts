// Shared argument handling for the subcommands: strict parsing (an unknown flag is an error
// naming it), --help, and usage errors that point at the help — exit code 2 for all of them.
import { parseArgs, type ParseArgsConfig } from "node:util";

export type Out = { log: (s: string) => void; err: (s: string) => void };

export const stdio: Out = {
  log: (s) => process.stdout.write(s + "\n"),
  err: (s) => process.stderr.write(s + "\n"),
};

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed<O extends Options> {
  values: ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>["values"];
  /** Prints "divco <command>: msg (see divco <command> --help)" and returns exit code 2. */
  usage: (msg: string) => number;
}

/**
 * Parses `argv` for `divco <command>`. Returns the values, or an exit code when the command
 * is already answered: 0 after printing --help, 2 after a parse error.
 */
export function parseCommand<O extends Options>(command: string, argv: string[], options: O, help: string, out: Out = stdio): Parsed<O> | number {
  const usage = (msg: string) => {
    out.err(`divco ${command}: ${msg} (see divco ${command} --help)`);
    return 2;
  };
  let values: Parsed<O>["values"];
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } } as O, strict: true, allowPositionals: false }));
  } catch (e) {
    return usage((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  if ((values as Record<string, unknown>).help) {
    out.log(help);
    return 0;
  }
  return { values, usage };
}
