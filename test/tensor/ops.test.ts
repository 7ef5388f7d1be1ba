// Every bound operation against PyTorch's output for the same inputs (fixtures/engine/ops).
import { test } from "node:test";
import { fixture, get, assertClose } from "../helpers/engine.js";
import { F } from "../../src/nn/index.js";
import { zeros, scope, type Tensor } from "../../src/tensor/index.js";

const fx = fixture("ops");
const t = (k: string) => get(fx, k);
const x = t("x");

const cases: [string, () => Tensor][] = [
  ["conv_basic", () => F.conv2d(x, t("w"), t("b"))],
  ["conv_s2_p1", () => F.conv2d(x, t("w"), null, { stride: 2, padding: 1 })],
  ["conv_dil2_p2", () => F.conv2d(x, t("w"), t("b"), { padding: 2, dilation: 2 })],
  ["conv_groups2", () => F.conv2d(x, t("wg"), null, { padding: 1, groups: 2 })],
  [
    "bn_eval",
    () =>
      F.batchNorm(x, t("rm"), t("rv"), { weight: t("gamma"), bias: t("beta"), training: false }),
  ],
  ["maxpool_3_2_ceil", () => F.maxPool2d(x, 3, { stride: 2, ceilMode: true })],
  ["maxpool_3_2_p1", () => F.maxPool2d(x, 3, { stride: 2, padding: 1 })],
  [
    "avgpool_3_2_p1_noinc",
    () => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
  ],
  ["avgpool_2", () => F.avgPool2d(x, 2)],
  ["adaptive_3", () => F.adaptiveAvgPool2d(x, 3)],
  ["relu6", () => F.relu6(x.mul(4))],
  ["silu", () => F.silu(x)],
  ["hardswish", () => F.hardswish(x)],
  ["hardsigmoid", () => F.hardsigmoid(x)],
  ["sigmoid", () => x.sigmoid()],
  ["tanh", () => x.tanh()],
  ["softmax1", () => F.softmax(x, 1)],
  ["log_softmax1", () => F.logSoftmax(x, 1)],
  ["pad_1_2_3_4", () => F.pad(x, [1, 2, 3, 4], "constant", 0.5)],
  ["pad_reflect", () => F.pad(x, [1, 1, 2, 2], "reflect")],
  ["ce_index", () => F.crossEntropy(t("logits"), t("target"))],
  ["ce_index_sum", () => F.crossEntropy(t("logits"), t("target"), { reduction: "sum" })],
  ["ce_soft", () => F.crossEntropy(t("logits"), t("soft"))],
  ["ce_smooth", () => F.crossEntropy(t("logits"), t("target"), { labelSmoothing: 0.1 })],
  ["nll", () => F.nllLoss(F.logSoftmax(t("logits"), 1), t("target"))],
  [
    "kl_batchmean",
    () => F.klDiv(F.logSoftmax(t("logits"), 1), t("soft"), { reduction: "batchmean" }),
  ],
  ["xlogy", () => t("soft").xlogy(t("soft"))],
  ["var_dim1", () => x.var(1)],
  ["var_all_biased", () => x.var(undefined, false)],
  ["topk_v", () => t("logits").topk(2, 1)[0]],
  ["topk_i", () => t("logits").topk(2, 1)[1]],
  ["gather", () => t("logits").gather(1, t("target").unsqueeze(1))],
  ["scatter", () => zeros([5, 4]).scatter(1, t("target").unsqueeze(1), 1)],
  ["clamp", () => x.clamp(-0.5, 0.7)],
  ["matmul", () => t("logits").matmul(t("soft").T)],
];

for (const [name, run] of cases) {
  test(`${name} matches PyTorch`, () => scope(() => assertClose(run(), t(name), name, 1e-5, 1e-5)));
}

test("batch norm in training matches PyTorch, running statistics included", () =>
  scope(() => {
    const rm = t("rm").clone();
    const rv = t("rv").clone();
    const y = F.batchNorm(x, rm, rv, {
      weight: t("gamma"),
      bias: t("beta"),
      training: true,
      momentum: 0.1,
    });
    assertClose(y, t("bn_train"), "bn_train", 1e-5, 1e-5);
    assertClose(rm, t("bn_train_rm"), "running mean", 1e-5, 1e-6);
    assertClose(rv, t("bn_train_rv"), "running var", 1e-5, 1e-6);
  }));
