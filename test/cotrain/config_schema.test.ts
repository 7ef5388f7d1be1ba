// One schema checks every config value (src/cotrain/config.ts CONFIG_SCHEMA, checked by
// config_schema.ts) wherever it comes from: a library caller's object, a --config file, a
// resumed run's config.json, command-line flags. Each message names where the value came from,
// the value and what is accepted. The cases of issue #10 item 4 are here: a config file's
// "sameView": "yes" and "milestones": "abc" used to train and be recorded as strings, and
// "epochs": "2" was refused as "epochs must be a positive integer, got 2".
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  ConfigError,
  DEFAULTS,
  checkConfigValues,
  preset,
  readConfigFile,
  resolveConfig,
  type TrainConfig,
} from "../../src/cotrain/config.js";
import { accepted, fits } from "../../src/cotrain/config_schema.js";
import { ArchError } from "../../src/models/registry.js";
import { tempDir } from "../data/helpers.js";

const base = { arch: "resnet29", runDir: "unused" };

/** Asserts that `f` throws a ConfigError whose message is exactly `message`. */
function refuses(f: () => unknown, message: string): void {
  assert.throws(f, (e: Error) => {
    assert.ok(e instanceof ConfigError, `a ConfigError, got ${e.name}: ${e.message}`);
    assert.equal(e.message, message);
    return true;
  });
}

function configFile(content: string): string {
  const file = join(tempDir("schema"), "c.json");
  writeFileSync(file, content);
  return file;
}

test("every key has a schema entry; the defaults and every preset fit it", () => {
  assert.deepEqual([...CONFIG_KEYS].sort(), [...Object.keys(DEFAULTS), "arch", "runDir"].sort());
  for (const [k, v] of Object.entries(DEFAULTS))
    assert.ok(fits(CONFIG_SCHEMA[k as keyof TrainConfig], v), `default of ${k}`);
  for (const [dataset, arch, epochs] of [
    ["cifar10", "resnext29_16x64d", 300],
    ["cifar100", "wide_resnet28_10", 1800],
    ["imagenet", "resnet50", 120],
    ["svhn", "resnet110", 160],
  ] as const)
    checkConfigValues(preset(dataset, arch, epochs));
});

test("a config file's values are checked with the file and key named (issue #10: sameView, milestones, epochs)", () => {
  const file = configFile(JSON.stringify({ sameView: "yes" }));
  refuses(
    () => readConfigFile(file),
    `config file ${file} key "sameView": expected true or false, got "yes"`,
  );
  writeFileSync(file, JSON.stringify({ milestones: "abc" }));
  refuses(
    () => readConfigFile(file),
    `config file ${file} key "milestones": expected a list of integers ≥ 0 such as [100,150], got "abc"`,
  );
  writeFileSync(file, JSON.stringify({ epochs: "2" }));
  refuses(
    () => readConfigFile(file),
    `config file ${file} key "epochs": expected an integer ≥ 1, got "2" (a string: write 2 without quotes)`,
  );
  writeFileSync(file, JSON.stringify({ milestones: [10, 20.5] }));
  assert.throws(() => readConfigFile(file), /key "milestones": expected a list of integers/);
  writeFileSync(file, JSON.stringify({ epochs: 2, sameView: true, milestones: [1] }));
  assert.deepEqual(readConfigFile(file), { epochs: 2, sameView: true, milestones: [1] });
});

test("a config file that is not a JSON object names the file (issue #10: garbage in config.json)", () => {
  const file = configFile("garbage");
  assert.throws(
    () => readConfigFile(file, "run config"),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message.startsWith(`run config ${file} is not valid JSON: `) &&
      /Unexpected token/.test(e.message),
  );
  writeFileSync(file, "[1, 2]");
  refuses(
    () => readConfigFile(file),
    `config file ${file}: expected a JSON object of config keys, got a list`,
  );
  writeFileSync(file, JSON.stringify({ epochs: 5, batch_size: 3, lrr: 1 }));
  refuses(
    () => readConfigFile(file),
    `config file ${file}: unknown keys batch_size (did you mean batchSize?), lrr (keys are the camelCase names of the options in divco train --help)`,
  );
  const missing = join(tempDir("schema"), "absent.json");
  assert.throws(
    () => readConfigFile(missing),
    /config file .*absent\.json: cannot read it \(ENOENT/,
  );
});

test("a library caller's values: type, range and allowed values, one message style", () => {
  const cases: [Partial<TrainConfig>, string][] = [
    [{ seed: 1.5 }, 'config key "seed": expected an integer ≥ 0, got 1.5'],
    [{ momentum: 1.5 }, 'config key "momentum": expected a number ≥ 0 and below 1, got 1.5'],
    [{ eraseP: 2 }, 'config key "eraseP": expected a number from 0 to 1, got 2'],
    [
      { labelSmoothing: 1 },
      'config key "labelSmoothing": expected a number ≥ 0 and below 1, got 1',
    ],
    [{ lr: -0.1 }, 'config key "lr": expected a number ≥ 0, got -0.1'],
    [{ lr: Number.NaN }, 'config key "lr": expected a number ≥ 0, got NaN'],
    [{ device: "gpu" }, 'config key "device": expected cpu, cuda or cuda:N, got "gpu"'],
    [
      { onBadImage: "ignore" as never },
      'config key "onBadImage": expected one of skip, fail, got "ignore"',
    ],
    [
      { randaugment: 9 as never },
      'config key "randaugment": expected a RandAugment policy such as rand-m9-mstd0.5, or null, got 9',
    ],
    [{ threads: -1 }, 'config key "threads": expected an integer ≥ 0, got -1'],
  ];
  for (const [values, message] of cases)
    refuses(() => resolveConfig({ ...base, ...values }), message);
  refuses(
    () =>
      resolveConfig({
        ...base,
        dataset: "imagenet",
        arch: "resnet50",
        data: "x",
        autoaugment: false,
        randaugment: "rand-q9",
      }),
    'config key "randaugment": RandAugment config "rand-q9": unknown section "q9" (known: m, n, mstd, inc, w)',
  );
  const ok = resolveConfig({
    ...base,
    arch: "resnet50",
    dataset: "imagenet",
    data: "x",
    autoaugment: false,
    randaugment: "rand-m9-mstd0.5",
    onBadImage: "skip",
  });
  assert.equal(ok.randaugment, "rand-m9-mstd0.5");
  assert.equal(ok.onBadImage, "skip");
  assert.equal(resolveConfig(base).onBadImage, "fail", "the default");
});

test("rules across keys, and the architecture, S and dataset, are checked before anything is built", () => {
  assert.throws(
    () => resolveConfig({ ...base, randaugment: "rand-m9" }),
    /randaugment is part of the ImageNet pipeline only/,
  );
  assert.throws(
    () =>
      resolveConfig({
        ...base,
        arch: "resnet50",
        dataset: "imagenet",
        data: "x",
        randaugment: "rand-m9",
      }),
    /randaugment replaces AutoAugment: pass --no-autoaugment/,
  );
  assert.throws(
    () => resolveConfig({ ...base, arch: "resnet50", dataset: "imagenet" }),
    /dataset imagenet reads an image folder: pass --data ROOT/,
  );
  assert.throws(
    () =>
      resolveConfig({ ...base, arch: "resnet50", dataset: "imagenet", data: "x", evalLimit: 10 }),
    /evalLimit and trainLimit take the first records of CIFAR or SVHN/,
  );
  assert.throws(
    () => resolveConfig({ ...base, arch: "resnet20" }),
    (e: Error) => e instanceof ArchError && /unknown architecture "resnet20"/.test(e.message),
  );
  assert.throws(
    () => resolveConfig({ ...base, split: 3 }),
    (e: Error) => e instanceof ArchError && /resnet29 cannot be divided into S=3/.test(e.message),
  );
  assert.throws(
    () => resolveConfig({ ...base, runDir: "" }),
    (e: Error) => e instanceof ConfigError && /runDir/.test(e.message),
  );
});

test("what a key accepts reads the same for flags and JSON, except how lists and null are written", () => {
  const m = CONFIG_SCHEMA.milestones;
  assert.equal(accepted(m, "flag"), "comma-separated integers ≥ 0 such as 100,150");
  assert.equal(accepted(m, "json"), "a list of integers ≥ 0 such as [100,150]");
  assert.match(accepted(CONFIG_SCHEMA.randaugment, "flag"), /, or none$/);
  assert.match(accepted(CONFIG_SCHEMA.randaugment, "json"), /, or null$/);
  assert.equal(accepted(CONFIG_SCHEMA.split, "flag"), "an integer ≥ 1");
});
