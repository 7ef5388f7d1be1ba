// The training config says what is true: amp (mixed precision) is refused with the real reason
// for the device asked for, and the ensemble rule is checked against the one list of rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig, ConfigError } from "../../src/cotrain/config.js";

const base = { arch: "resnet29", runDir: "unused" };

test("amp false is accepted on every device", () => {
  assert.equal(resolveConfig({ ...base, amp: false }).amp, false);
  assert.equal(resolveConfig({ ...base, device: "cuda:0", amp: false }).amp, false);
  assert.equal(resolveConfig(base).amp, false, "the default");
});

test("amp on CPU: it needs a CUDA device (and is not offered there yet either)", () => {
  assert.throws(
    () => resolveConfig({ ...base, amp: true }),
    (e: Error) =>
      e instanceof ConfigError &&
      /amp \(mixed precision\) needs a CUDA device/.test(e.message) &&
      /does not implement amp on CUDA yet/.test(e.message) &&
      /train without --amp/.test(e.message),
  );
});

test("amp on CUDA: this build does not implement it yet", () => {
  for (const device of ["cuda", "cuda:1"]) {
    assert.throws(
      () => resolveConfig({ ...base, device, amp: true }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message.includes(`amp (mixed precision) on ${device}: this build does not implement`) &&
        !/needs a CUDA device/.test(e.message),
      device,
    );
  }
});

test("the ensemble rule is one of REFERENCE.md §4's", () => {
  assert.equal(resolveConfig({ ...base, ensemble: "geometric" }).ensemble, "geometric");
  assert.throws(
    () => resolveConfig({ ...base, ensemble: "median" as never }),
    /config key "ensemble": expected one of mean_logits, mean_probs, max, geometric, got "median"/,
  );
});
