// The ensemble predictor's execution modes give the same numbers: every member's logits from
// the concurrent worker pool, the fused network and "auto" equal the sequential path's to 1e-5
// (fp32), for S=2 and S=4 (two members per worker), and the ensemble's scores and
// probabilities follow the chosen rule. Closing an ensemble leaves no tensor behind. The CUDA
// modes say clearly why they cannot run on a CPU-only build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "../../src/models/index.js";
import type { Members } from "../../src/models/members.js";
import { ensemble as combine } from "../../src/models/ensemble.js";
import {
  Generator,
  cudaDeviceCount,
  native,
  noGrad,
  randn,
  scope,
  type Tensor,
} from "../../src/tensor/index.js";
import { Ensemble } from "../../src/infer/predictor.js";
import { ModeUnavailableError } from "../../src/infer/engines.js";

function randomise(m: Members, seed: number): void {
  const g = new Generator(seed);
  noGrad(() => {
    for (const [k, t] of m.stateDict()) {
      if (t.dtype !== "f32") continue;
      if (k.endsWith("running_var")) t.uniform_(0.5, 1.5, g);
      else if (t.ndim === 1) t.normal_(0, 0.1, g);
      else t.normal_(0, 1 / Math.sqrt(t.shape.slice(1).reduce((a, b) => a * b, 1)), g);
    }
  });
}

const maxDiff = (a: Tensor[], b: Tensor[]) =>
  scope(() => Math.max(...a.map((z, i) => z.sub(b[i]).abs().max().item())));

for (const [arch, S, extra] of [
  ["resnet29", 2, {}],
  ["resnet29", 4, {}],
  ["wide_resnet16_8", 2, { width: 32 }],
] as const) {
  test(`${arch} S=${S}: sequential, concurrent, fused and auto give the same logits`, async () => {
    const members = create(arch, { split: S, dataset: "cifar100", extra });
    randomise(members, 1);
    const x = randn([3, 3, 32, 32], { generator: new Generator(2) });
    const live = native.liveTensors();
    try {
      // The threads the test runner gives (DIVCO_NUM_THREADS); concurrent: 2 lanes of 1 thread.
      const seq = await Ensemble.load({ members }, { mode: "sequential" });
      const want = await seq.memberLogits(x);
      for (const mode of ["concurrent", "fused", "auto"] as const) {
        const e = await Ensemble.load(
          { members },
          { mode, lanes: 2, timing: { warmup: 0, minRounds: 1, maxRounds: 1 } },
        );
        try {
          if (mode === "concurrent")
            assert.match(e.layout, /^2 lanes \(this thread \+ 1 worker\) × 1 thread$/);
          if (mode === "auto") {
            assert.ok(e.auto && ["sequential", "concurrent", "fused"].includes(e.auto.mode));
            assert.equal(e.auto.candidates.length, 3);
            assert.ok(e.auto.candidates.every((c) => c.medianMs! > 0));
          }
          const got = await e.memberLogits(x);
          assert.equal(got.length, S);
          assert.ok(maxDiff(want, got) <= 1e-5, `${mode}: ${maxDiff(want, got)}`);
          for (const z of got) z.dispose();
          // Twice: the worker pool and the fused weights persist between calls.
          const again = await e.memberLogits(x);
          assert.ok(maxDiff(want, again) <= 1e-5);
          for (const z of again) z.dispose();
        } finally {
          await e.close();
        }
      }
      for (const z of want) z.dispose();
      await seq.close();
      assert.equal(native.liveTensors(), live, "closing every ensemble frees what it made");
    } finally {
      x.dispose();
      members.dispose();
    }
  });
}

test("predict: scores by the rule, probabilities summing to 1, top-k sorted", async () => {
  const members = create("resnet29", { split: 2, dataset: "cifar10" });
  randomise(members, 3);
  const x = randn([2, 3, 32, 32], { generator: new Generator(4) });
  try {
    for (const rule of ["mean_logits", "mean_probs", "max", "geometric"] as const) {
      const e = await Ensemble.load({ members }, { mode: "fused", rule });
      try {
        using p = await e.predict(x);
        assert.equal(p.rule, rule);
        scope(() => {
          const want = combine(rule, p.members);
          assert.ok(want.sub(p.scores).abs().max().item() <= 1e-6);
          const sums = p.probabilities.sum(1).toArray();
          for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, `${rule}: rows sum to ${s}`);
        });
        const top = p.topk(3);
        assert.equal(top.length, 2);
        for (const row of top) {
          assert.equal(row.length, 3);
          assert.ok(row[0].probability >= row[1].probability);
          assert.ok(row[1].probability >= row[2].probability);
          assert.equal(typeof row[0].name, "string"); // CIFAR-10 class names
        }
        assert.equal(
          top[0][0].index,
          scope(() => p.scores.argmax(1).toArray()[0]),
        );
      } finally {
        await e.close();
      }
    }
  } finally {
    x.dispose();
    members.dispose();
  }
});

test("the predictor refuses bad input and modes this build cannot run, clearly", async () => {
  const members = create("resnet29", { split: 2, dataset: "cifar10" });
  try {
    const e = await Ensemble.load({ members });
    try {
      using gray = randn([1, 1, 32, 32]);
      await assert.rejects(e.memberLogits(gray), /expected an N×3×H×W batch of images/);
      using ints = randn([1, 3, 32, 32]).to("f64");
      await assert.rejects(e.memberLogits(ints), /expected f32 images/);
    } finally {
      await e.close();
    }
    await assert.rejects(e.memberLogits(randn([1, 3, 32, 32])), /already closed/);
    // On a CUDA machine "devices" runs; without one both CUDA modes say what they need.
    if (cudaDeviceCount() === 0)
      for (const mode of ["devices", "streams"] as const)
        await assert.rejects(
          Ensemble.load({ members }, { mode }),
          (err: unknown) =>
            err instanceof ModeUnavailableError && /needs a CUDA/.test((err as Error).message),
        );
    await assert.rejects(
      Ensemble.load({ members }, { mode: "warp" as never }),
      /unknown execution mode "warp"/,
    );
  } finally {
    members.dispose();
  }
});
