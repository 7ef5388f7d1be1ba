// Neural-network operations as functions (PyTorch's torch.nn.functional), each one ATen call.
import { native } from "../tensor/native.js";
import { opTable } from "../tensor/ops.js";
import { Tensor, callOp as call } from "../tensor/tensor.js";
import { dtypeCode, type DType } from "../tensor/dtype.js";

const O = opTable({
  linear: "linear",
  conv2d: "conv2d",
  batchNorm: "batch_norm",
  maxPool2d: "max_pool2d",
  avgPool2d: "avg_pool2d",
  adaptiveAvgPool2d: "adaptive_avg_pool2d",
  relu: "relu",
  relu_: "relu_",
  relu6: "hardtanh",
  silu: "silu",
  sigmoid: "sigmoid",
  hardswish: "hardswish",
  hardsigmoid: "hardsigmoid",
  tanh: "tanh",
  gelu: "gelu",
  leakyRelu: "leaky_relu",
  softmax: "softmax.int",
  logSoftmax: "log_softmax.int",
  dropout: "dropout",
  featureDropout: "feature_dropout",
  constantPad: "constant_pad_nd",
  reflectionPad2d: "reflection_pad2d",
  replicationPad2d: "replication_pad2d",
  crossEntropy: "cross_entropy_loss",
  nll: "nll_loss",
  klDiv: "kl_div",
  mse: "mse_loss",
  matmul: "matmul",
  layerNorm: "layer_norm",
});

type Pair = number | [number, number];
type Reduction = "none" | "mean" | "sum";
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reduction(r: Reduction | undefined): number {
  const v = REDUCTION[r ?? "mean"];
  if (v === undefined) throw new TypeError(`reduction must be "none", "mean" or "sum", got "${r}"`);
  return v;
}

export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return call(O.linear, x.handle, weight.handle, bias?.handle);
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  o: Conv2dOptions = {},
): Tensor {
  return call(
    O.conv2d,
    x.handle,
    weight.handle,
    bias?.handle,
    o.stride ?? 1,
    o.padding ?? 0,
    o.dilation ?? 1,
    o.groups ?? 1,
  );
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training: boolean;
  momentum?: number;
  eps?: number;
}
/** Batch normalisation; in training it updates runningMean/runningVar in place (PyTorch semantics). */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  o: BatchNormOptions,
): Tensor {
  return call(
    O.batchNorm,
    x.handle,
    o.weight?.handle,
    o.bias?.handle,
    runningMean?.handle,
    runningVar?.handle,
    o.training,
    o.momentum ?? 0.1,
    o.eps ?? 1e-5,
    true,
  );
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}
export function maxPool2d(
  x: Tensor,
  kernel: Pair,
  o: PoolOptions & { dilation?: Pair } = {},
): Tensor {
  return call(
    O.maxPool2d,
    x.handle,
    kernel,
    o.stride ?? kernel,
    o.padding ?? 0,
    o.dilation ?? 1,
    o.ceilMode ?? false,
  );
}
export function avgPool2d(
  x: Tensor,
  kernel: Pair,
  o: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number } = {},
): Tensor {
  return call(
    O.avgPool2d,
    x.handle,
    kernel,
    o.stride ?? kernel,
    o.padding ?? 0,
    o.ceilMode ?? false,
    o.countIncludePad ?? true,
    o.divisorOverride,
  );
}
export function adaptiveAvgPool2d(x: Tensor, output: Pair): Tensor {
  return call(O.adaptiveAvgPool2d, x.handle, output);
}

export function relu(x: Tensor, inplace = false): Tensor {
  if (inplace) {
    native.callVoid(O.relu_, x.handle);
    return x;
  }
  return call(O.relu, x.handle);
}
export function relu6(x: Tensor): Tensor {
  return call(O.relu6, x.handle, 0, 6);
}
export function silu(x: Tensor): Tensor {
  return call(O.silu, x.handle);
}
export function sigmoid(x: Tensor): Tensor {
  return call(O.sigmoid, x.handle);
}
export function hardswish(x: Tensor): Tensor {
  return call(O.hardswish, x.handle);
}
export function hardsigmoid(x: Tensor): Tensor {
  return call(O.hardsigmoid, x.handle);
}
export function tanh(x: Tensor): Tensor {
  return call(O.tanh, x.handle);
}
export function gelu(x: Tensor): Tensor {
  return call(O.gelu, x.handle);
}
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return call(O.leakyRelu, x.handle, slope);
}
export function softmax(x: Tensor, dim: number, dtype?: DType): Tensor {
  return call(O.softmax, x.handle, dim, dtype ? dtypeCode(dtype) : undefined);
}
export function logSoftmax(x: Tensor, dim: number, dtype?: DType): Tensor {
  return call(O.logSoftmax, x.handle, dim, dtype ? dtypeCode(dtype) : undefined);
}

function checkP(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
}
/** Zeroes elements with probability p and scales the rest by 1/(1−p) when training. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  checkP(p);
  return call(O.dropout, x.handle, p, training);
}
/** Zeroes whole channels of an N×C×H×W tensor with probability p when training. */
export function dropout2d(x: Tensor, p: number, training: boolean): Tensor {
  checkP(p);
  return call(O.featureDropout, x.handle, p, training);
}

/** Pads the last dimensions: pad = [left, right, top, bottom, ...] as in PyTorch. */
export function pad(
  x: Tensor,
  padding: number[],
  mode: "constant" | "reflect" | "replicate" = "constant",
  value = 0,
): Tensor {
  if (mode === "constant") return call(O.constantPad, x.handle, padding, value);
  if (padding.length !== 4)
    throw new RangeError(`pad: mode "${mode}" takes 4 padding values (left, right, top, bottom)`);
  return call(mode === "reflect" ? O.reflectionPad2d : O.replicationPad2d, x.handle, padding);
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  labelSmoothing?: number;
  ignoreIndex?: number;
  weight?: Tensor | null;
}
/**
 * Cross entropy from logits. `target` is class indices (i64, shape N) or class probabilities
 * (same shape as the logits: soft targets, as mixup and label smoothing produce).
 */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  const eps = o.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new RangeError(`labelSmoothing must be in [0, 1], got ${eps}`);
  return call(
    O.crossEntropy,
    logits.handle,
    target.handle,
    o.weight?.handle,
    reduction(o.reduction),
    o.ignoreIndex ?? -100,
    eps,
  );
}
/** Negative log-likelihood of log-probabilities at class indices. */
export function nllLoss(
  logProbs: Tensor,
  target: Tensor,
  o: { reduction?: Reduction; ignoreIndex?: number; weight?: Tensor } = {},
): Tensor {
  return call(
    O.nll,
    logProbs.handle,
    target.handle,
    o.weight?.handle,
    reduction(o.reduction),
    o.ignoreIndex ?? -100,
  );
}
/**
 * KL(target ‖ input) with `input` given as log-probabilities, as torch.nn.functional.kl_div.
 * "batchmean" divides the sum by the batch size (the mathematically correct mean).
 */
export function klDiv(
  input: Tensor,
  target: Tensor,
  o: { reduction?: Reduction | "batchmean"; logTarget?: boolean } = {},
): Tensor {
  if (o.reduction === "batchmean") {
    const total = call(O.klDiv, input.handle, target.handle, REDUCTION.sum, o.logTarget ?? false);
    const out = total.div(input.shape[0]);
    total.dispose();
    return out;
  }
  return call(O.klDiv, input.handle, target.handle, reduction(o.reduction), o.logTarget ?? false);
}
export function mseLoss(input: Tensor, target: Tensor, o: { reduction?: Reduction } = {}): Tensor {
  return call(O.mse, input.handle, target.handle, reduction(o.reduction));
}
export function layerNorm(
  x: Tensor,
  shape: number[],
  weight?: Tensor,
  bias?: Tensor,
  eps = 1e-5,
): Tensor {
  return call(O.layerNorm, x.handle, shape, weight?.handle, bias?.handle, eps, true);
}
