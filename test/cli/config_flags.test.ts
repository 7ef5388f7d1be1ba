// `divco train`'s flags come from the training config: every config key has a flag and a real
// one-line description (a new key without one fails here), and flags convert to config values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgv } from "../../src/cli/args.js";
import {
  CONFIG_KEYS,
  CONFIG_TEXT,
  configFlags,
  configFromArgs,
  kebab,
} from "../../src/cli/config_flags.js";
import { TRAIN } from "../../src/cli/train.js";
import { DEFAULTS, ConfigError, type TrainConfig } from "../../src/cotrain/config.js";
import { tempDir } from "./helpers.js";

test("every TrainConfig key has a flag with a one-line description", () => {
  const keys = [...Object.keys(DEFAULTS), "arch", "runDir"];
  assert.deepEqual([...CONFIG_KEYS].sort(), keys.sort());
  assert.deepEqual(
    Object.keys(CONFIG_TEXT).sort(),
    keys.sort(),
    "CONFIG_TEXT describes exactly the config keys",
  );
  const flags = configFlags();
  for (const k of keys) {
    const text = CONFIG_TEXT[k as keyof TrainConfig];
    assert.ok(
      text.description.length >= 10 && !text.description.includes("\n"),
      `${k}: a real one-line description`,
    );
    assert.ok(!/^default\b/i.test(text.description), `${k}: describes the option, not its default`);
    const f = flags[kebab(k)];
    assert.ok(f, `--${kebab(k)} exists`);
    assert.equal(f.description, text.description);
    const d = (DEFAULTS as Record<string, unknown>)[k];
    assert.equal(f.type, typeof d === "boolean" ? "boolean" : "string", k);
    if (f.type === "string") assert.ok(text.value && text.value !== "V", `${k}: a value name`);
    if (k in DEFAULTS) assert.ok(f.defaultText, `${k}: its default is shown`);
  }
});

test("the help marks the defaults a preset may replace, and only those", () => {
  const flags = configFlags();
  assert.match(flags["weight-decay"].defaultText!, /^0\.0001 \*$/);
  assert.match(flags["warmup-epochs"].defaultText!, /^20 \*$/);
  assert.equal(flags["cot-weight"].defaultText, "0.5");
  assert.equal(flags.milestones.defaultText, "100,150 *");
  assert.equal(flags.randaugment.defaultText, "none");
  assert.equal(flags.arch.defaultText, undefined);
});

test("flags become config values; --config supplies keys that flags override", () => {
  const values = (...argv: string[]) => {
    const p = parseArgv(TRAIN, argv);
    assert.notEqual(p, "help");
    return p === "help"
      ? {}
      : (p.values as Record<string, string | boolean | string[] | undefined>);
  };
  assert.deepEqual(
    configFromArgs(
      values(
        "--arch",
        "resnet29",
        "--lr",
        "0.05",
        "--milestones",
        "10,20",
        "--no-nesterov",
        "--randaugment",
        "none",
        "--run-dir",
        "r",
      ),
    ),
    {
      arch: "resnet29",
      lr: 0.05,
      milestones: [10, 20],
      nesterov: false,
      randaugment: null,
      runDir: "r",
    },
  );
  assert.deepEqual(configFromArgs(values("--milestones", "")), { milestones: [] });
  assert.throws(
    () => configFromArgs(values("--lr", "fast")),
    (e: Error) =>
      e instanceof ConfigError && e.message === '--lr: expected a number ≥ 0, got "fast"',
  );
  assert.throws(
    () => configFromArgs(values("--milestones", "10,x")),
    /--milestones: expected comma-separated integers ≥ 0 such as 100,150, got "10,x"/,
  );
  const dir = tempDir("config");
  const file = join(dir, "c.json");
  writeFileSync(file, JSON.stringify({ arch: "resnet29", epochs: 5, cutout: false }));
  assert.deepEqual(configFromArgs(values("--config", file, "--epochs", "7")), {
    arch: "resnet29",
    epochs: 7,
    cutout: false,
  });
  writeFileSync(file, JSON.stringify({ epochs: 5, batch_size: 3 }));
  assert.throws(
    () => configFromArgs(values("--config", file)),
    /config file .*c\.json: unknown key batch_size \(did you mean batchSize\?\)/,
  );
});
