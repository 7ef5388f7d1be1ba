// Functional operations the engine fixtures (test/tensor/ops.test.ts) do not cover, against
// PyTorch, forward and gradient: cross entropy with class weights, ignore_index, no reduction
// and label smoothing (index and probability targets); weighted NLL; KL divergence with
// log-targets and each reduction; MSE; layer norm; constant, reflect and replicate padding.
// Fixture: test/fixtures/nn/functional.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import { F } from "../../src/nn/index.js";
import { scope, type Tensor } from "../../src/tensor/index.js";
import { get } from "../helpers/engine.js";
import { checkFn, nnFixture } from "./helpers.js";

const fx = nnFixture("functional");
const t = (k: string) => get(fx, k);
const target = t("target");
const weight = t("weight");
const soft = t("soft");

// make_nn_fixtures.py's functional_fixture cases: (name, function, its tensor arguments).
const CASES: [string, (...a: Tensor[]) => Tensor, string[]][] = [
  ["ce_weight", (z) => F.crossEntropy(z, target, { weight }), ["logits"]],
  ["ce_ignore1", (z) => F.crossEntropy(z, target, { ignoreIndex: 1 }), ["logits"]],
  ["ce_none", (z) => F.crossEntropy(z, target, { reduction: "none" }), ["logits"]],
  ["ce_soft_smooth", (z) => F.crossEntropy(z, soft, { labelSmoothing: 0.2 }), ["logits"]],
  [
    "ce_smooth_weight_sum",
    (z) => F.crossEntropy(z, target, { weight, labelSmoothing: 0.1, reduction: "sum" }),
    ["logits"],
  ],
  [
    "nll_weight_sum",
    (z) => F.nllLoss(F.logSoftmax(z, 1), target, { weight, reduction: "sum" }),
    ["logits"],
  ],
  [
    "kl_logtarget_sum",
    (z) => F.klDiv(F.logSoftmax(z, 1), soft.log(), { reduction: "sum", logTarget: true }),
    ["logits"],
  ],
  ["kl_mean", (z) => F.klDiv(F.logSoftmax(z, 1), soft, { reduction: "mean" }), ["logits"]],
  ["kl_none", (z) => F.klDiv(F.logSoftmax(z, 1), soft, { reduction: "none" }), ["logits"]],
  ["mse_mean", (a, b) => F.mseLoss(a, b), ["a", "b"]],
  ["mse_sum", (a, b) => F.mseLoss(a, b, { reduction: "sum" }), ["a", "b"]],
  ["mse_none", (a, b) => F.mseLoss(a, b, { reduction: "none" }), ["a", "b"]],
  ["layer_norm", (x, w, b) => F.layerNorm(x, [4], w, b), ["x3", "ln_w", "ln_b"]],
  ["layer_norm_2d_eps", (x) => F.layerNorm(x, [3, 4], undefined, undefined, 1e-3), ["x3"]],
  ["pad_constant", (x) => F.pad(x, [1, 2, 0, 1], "constant", -0.5), ["x4"]],
  ["pad_reflect", (x) => F.pad(x, [2, 1, 1, 3], "reflect"), ["x4"]],
  ["pad_replicate", (x) => F.pad(x, [1, 2, 2, 1], "replicate"), ["x4"]],
];

for (const [name, f, args] of CASES) {
  test(`F ${name}: output and gradients equal PyTorch's`, () =>
    scope(() => checkFn(f, args.map(t), fx, name, { rtol: 1e-5, atol: 1e-6 })));
}
