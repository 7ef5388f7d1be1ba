// Command-line flags for every TrainConfig key, derived from the defaults: `--batch-size 64`,
// `--no-nesterov`, `--milestones 100,150`. A `--config file.json` supplies keys in camelCase;
// flags given on the command line override it. Unknown flags and keys are errors naming them.
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DEFAULTS, ConfigError, type TrainConfig } from "../cotrain/config.js";

const kebab = (k: string) => k.replace(/[A-Z]/g, (m) => "-" + m.toLowerCase());
const CONFIG_KEYS = [...Object.keys(DEFAULTS), "arch", "runDir"] as (keyof TrainConfig)[];

/** The parseArgs options for the config keys, plus extra command-specific options. */
export function configOptions(extra: NonNullable<ParseArgsConfig["options"]> = {}): NonNullable<ParseArgsConfig["options"]> {
  const opts: NonNullable<ParseArgsConfig["options"]> = { config: { type: "string" }, help: { type: "boolean", short: "h" }, ...extra };
  for (const k of CONFIG_KEYS) {
    const flag = kebab(k);
    if (typeof (DEFAULTS as Record<string, unknown>)[k] === "boolean") {
      opts[flag] = { type: "boolean" };
      opts[`no-${flag}`] = { type: "boolean" };
    } else {
      opts[flag] = { type: "string" };
    }
  }
  return opts;
}

function convert(k: keyof TrainConfig, raw: string): unknown {
  const def = (DEFAULTS as Record<string, unknown>)[k];
  if (Array.isArray(def)) {
    return raw === "" ? [] : raw.split(",").map((s) => {
      const v = Number(s);
      if (!Number.isFinite(v)) throw new ConfigError(`--${kebab(k)}: "${s}" is not a number`);
      return v;
    });
  }
  if (typeof def === "number") {
    const v = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(v)) throw new ConfigError(`--${kebab(k)} takes a number, got "${raw}"`);
    return v;
  }
  if (k === "randaugment" && (raw === "" || raw === "none")) return null;
  return raw;
}

/** Reads --config (if any) and the flags into a partial TrainConfig. */
export function configFromArgs(values: Record<string, string | boolean | (string | boolean)[] | undefined>): Partial<TrainConfig> {
  let out: Partial<TrainConfig> = {};
  if (typeof values.config === "string") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(values.config, "utf8"));
    } catch (e) {
      throw new ConfigError(`--config ${values.config}: ${(e as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new ConfigError(`--config ${values.config}: expected a JSON object of config keys`);
    const unknown = Object.keys(parsed).filter((k) => !CONFIG_KEYS.includes(k as keyof TrainConfig));
    if (unknown.length) throw new ConfigError(`--config ${values.config}: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
    out = parsed as Partial<TrainConfig>;
  }
  for (const k of CONFIG_KEYS) {
    const flag = kebab(k);
    if (typeof (DEFAULTS as Record<string, unknown>)[k] === "boolean") {
      if (values[flag] && values[`no-${flag}`]) throw new ConfigError(`--${flag} and --no-${flag} contradict each other`);
      if (values[flag]) (out as Record<string, unknown>)[k] = true;
      if (values[`no-${flag}`]) (out as Record<string, unknown>)[k] = false;
    } else if (typeof values[flag] === "string") {
      (out as Record<string, unknown>)[k] = convert(k, values[flag] as string);
    }
  }
  return out;
}

/** One help line per config key with its default. */
export function configHelp(): string {
  return CONFIG_KEYS.filter((k) => k !== "arch" && k !== "runDir")
    .map((k) => {
      const d = (DEFAULTS as Record<string, unknown>)[k];
      const flag = typeof d === "boolean" ? `--[no-]${kebab(k)}` : `--${kebab(k)} ${Array.isArray(d) ? "a,b" : "V"}`;
      return `  ${flag.padEnd(30)} default ${JSON.stringify(d)}`;
    })
    .join("\n");
}

export function parseCommand(argv: string[], extra: NonNullable<ParseArgsConfig["options"]> = {}) {
  try {
    return parseArgs({ args: argv, options: configOptions(extra), strict: true, allowPositionals: false });
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}
