// Operator ids: each ATen operator divco calls is looked up once, here, by its schema name.
// Calls then go straight through the dispatcher (native/src/dispatch.cc).
import { native } from "./native.js";

const MISSING = -1;

function lookup(spec: string): number {
  const dot = spec.indexOf(".");
  const name = "aten::" + (dot < 0 ? spec : spec.slice(0, dot));
  const overload = dot < 0 ? "" : spec.slice(dot + 1);
  return native.hasOp(name, overload) ? native.opLookup(name, overload) : MISSING;
}

const specs = [
  // creation and conversion
  "empty.memory_format",
  "zeros",
  "ones",
  "full",
  "arange.start_step",
  "rand.generator",
  "randn.generator",
  "randint.low_generator",
  "bernoulli.p",
  "to.dtype",
  "to.device",
  "to.dtype_layout",
  "contiguous",
  "clone",
  "detach",
  "alias",
  "empty_like",
  "zeros_like",
  "ones_like",
  "full_like",
  "eye",
  "linspace",
  // views and shape
  "reshape",
  "view",
  "permute",
  "transpose.int",
  "narrow",
  "slice.Tensor",
  "select.int",
  "chunk",
  "split.Tensor",
  "split_with_sizes",
  "cat",
  "stack",
  "flatten.using_ints",
  "squeeze",
  "squeeze.dim",
  "unsqueeze",
  "expand",
  "expand_as",
  "flip",
  "roll",
  "repeat",
  "t",
  // elementwise
  "add.Tensor",
  "add.Scalar",
  "sub.Tensor",
  "sub.Scalar",
  "mul.Tensor",
  "mul.Scalar",
  "div.Tensor",
  "div.Scalar",
  "pow.Tensor_Scalar",
  "pow.Tensor_Tensor",
  "neg",
  "abs",
  "exp",
  "log",
  "log1p",
  "sqrt",
  "rsqrt",
  "reciprocal",
  "sin",
  "cos",
  "floor",
  "ceil",
  "round",
  "sign",
  "maximum",
  "minimum",
  "clamp",
  "clamp.Tensor",
  "xlogy.Tensor",
  "lerp.Scalar",
  "addcmul",
  "addcdiv",
  "isnan",
  "isfinite",
  "logical_not",
  "logical_and",
  "logical_or",
  "eq.Scalar",
  "eq.Tensor",
  "ne.Scalar",
  "ne.Tensor",
  "lt.Scalar",
  "lt.Tensor",
  "le.Scalar",
  "le.Tensor",
  "gt.Scalar",
  "gt.Tensor",
  "ge.Scalar",
  "ge.Tensor",
  // in place
  "add_.Tensor",
  "add_.Scalar",
  "sub_.Tensor",
  "mul_.Tensor",
  "mul_.Scalar",
  "div_.Scalar",
  "div_.Tensor",
  "zero_",
  "fill_.Scalar",
  "copy_",
  "clamp_",
  "normal_",
  "uniform_",
  "bernoulli_.float",
  "addcmul_",
  "addcdiv_",
  "set_data",
  "relu_",
  "lerp_.Scalar",
  "sqrt_",
  "requires_grad_",
  // reductions
  "sum",
  "sum.dim_IntList",
  "mean",
  "mean.dim",
  "max",
  "max.dim",
  "min",
  "min.dim",
  "amax",
  "amin",
  "argmax",
  "argmin",
  "topk",
  "var.dim",
  "std.dim",
  "prod",
  "logsumexp",
  "all",
  "any",
  "any.dim",
  "norm.Scalar",
  "sort",
  // indexing
  "index_select",
  "gather",
  "scatter.src",
  "scatter.value",
  "scatter_add",
  "masked_fill.Scalar",
  "masked_fill.Tensor",
  "where.self",
  "index.Tensor",
  "index_put_",
  "one_hot",
  "nonzero",
  // linear algebra and nn
  "matmul",
  "mm",
  "bmm",
  "linear",
  "conv2d",
  "batch_norm",
  "native_batch_norm",
  "max_pool2d",
  "avg_pool2d",
  "adaptive_avg_pool2d",
  "relu",
  "relu6",
  "hardtanh",
  "silu",
  "sigmoid",
  "hardswish",
  "hardsigmoid",
  "tanh",
  "gelu",
  "leaky_relu",
  "softmax.int",
  "log_softmax.int",
  "dropout",
  "feature_dropout",
  "constant_pad_nd",
  "reflection_pad2d",
  "replication_pad2d",
  "cross_entropy_loss",
  "nll_loss",
  "kl_div",
  "mse_loss",
  "smooth_l1_loss",
  "binary_cross_entropy_with_logits",
  "upsample_nearest2d",
  "upsample_bilinear2d",
  "layer_norm",
  "group_norm",
  // optimiser kernels: one call per parameter list, not per parameter
  "_foreach_mul_.Scalar",
  "_foreach_add_.List",
  "_foreach_add_.Scalar",
  "_foreach_addcmul_.Scalar",
  "_foreach_addcdiv_.Scalar",
  "_foreach_sqrt",
  "_foreach_div_.List",
  "_foreach_div_.Scalar",
  "_foreach_zero_",
  "_foreach_add.List",
  "_foreach_mul.Scalar",
  "_foreach_addcdiv_.ScalarList",
  "_foreach_norm.Scalar",
] as const;

export type OpSpec = (typeof specs)[number];

const ids = new Map<string, number>();
for (const s of specs) ids.set(s, lookup(s));

/** The id of an ATen operator known to divco; throws a clear error if this libtorch lacks it. */
export function opId(spec: OpSpec): number {
  const id = ids.get(spec)!;
  if (id === MISSING) {
    throw new Error(
      `the linked libtorch has no operator aten::${spec} (libtorch ${native.buildInfo().torchVersion})`,
    );
  }
  return id;
}

/** Looks up any ATen operator by "name.overload" — for operators divco has no wrapper for. */
export function anyOp(spec: string): number {
  const known = ids.get(spec);
  if (known !== undefined && known !== MISSING) return known;
  const id = lookup(spec);
  if (id === MISSING) throw new Error(`the linked libtorch has no operator aten::${spec}`);
  ids.set(spec, id);
  return id;
}

/**
 * Builds an object of op ids, so hot paths read a property instead of a map. An operator the
 * linked libtorch lacks does not stop the module from loading: its property throws opId's clear
 * error when a caller first reaches for it, so everything else keeps working.
 */
export function opTable<K extends string>(table: Record<K, OpSpec>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(table) as K[]) {
    const spec = table[k];
    if (!ids.has(spec)) ids.set(spec, lookup(spec));
    const id = ids.get(spec)!;
    if (id === MISSING) Object.defineProperty(out, k, { get: () => opId(spec), enumerable: true });
    else Object.defineProperty(out, k, { value: id, enumerable: true });
  }
  return out;
}
