// The ATen → ONNX operator table: one rule per ATen operator an evaluation forward may call,
// each emitting the ONNX nodes with the same semantics (opset 13 and later; where an operator
// changed form in a later opset — the axes of Reduce* as an input from 18, Gelu from 20 — the
// rule follows the opset being written). Pure layout operators (contiguous, clone, detach, an
// evaluation-mode dropout) become no node at all. An operator without a rule is refused by the
// graph writer, naming it and the module that called it.
import { int, float, ints, str } from "./onnx_graph.js";
import { onnxElemType } from "./onnx_proto.js";
import { dtypeFromCode, type DType } from "../tensor/dtype.js";
import type { OpContext, OutputInfo } from "./op_context.js";

/** A rule returns the ONNX value of each of the call's results, in order. */
export type OpRule = (c: OpContext) => string[];

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

const norm = (d: number, rank: number): number => (d < 0 ? d + rank : d);

/** Axes of a reduction: null or [] means every axis (ATen's convention). */
function reduceAxes(raw: unknown, rank: number): number[] | null {
  if (raw === null || raw === undefined) return null;
  const list = typeof raw === "number" ? [raw] : (raw as number[]);
  return list.length ? list.map((d) => norm(d, rank)) : null;
}

/** Reduce* with `axes` (null: all), as an attribute before opset 18 (ReduceSum: before 13). */
function reduce(
  c: OpContext,
  op: string,
  x: string,
  axes: number[] | null,
  keepdims: boolean,
): string {
  const axesAsInput = c.opset >= 18 || op === "ReduceSum";
  if (axesAsInput) {
    const inputs = axes ? [x, c.i64(axes)] : [x];
    return c.node(op, inputs, { keepdims: int(keepdims) })[0];
  }
  return c.node(
    op,
    [x],
    axes ? { axes: ints(axes), keepdims: int(keepdims) } : { keepdims: int(keepdims) },
  )[0];
}

/** Casts `x` to the ScalarType code `code` when it is not already of that dtype. */
function castTo(c: OpContext, x: string, from: DType, code: unknown): string {
  if (code === null || code === undefined) return x;
  const to = dtypeFromCode(code as number);
  return to === from ? x : c.node("Cast", [x], { to: int(onnxElemType(to)) })[0];
}

const pairOf = (c: OpContext, name: string): [number, number] => {
  const v = c.ints(name, 2);
  return [v[0], v[1]];
};

/**
 * ONNX's pooling output size (floor or ceil of (in + pads − dilated kernel)/stride + 1) must be
 * the size ATen produced; they part where ATen drops a last ceil-mode window that would start in
 * the padding.
 */
function checkPoolSize(
  c: OpContext,
  k: [number, number],
  s: [number, number],
  p: [number, number],
  d: [number, number],
  ceil: boolean,
): void {
  const inShape = c.info("self").shape;
  const got = c.out().shape;
  for (let i = 0; i < 2; i++) {
    const span = inShape[2 + i] + 2 * p[i] - d[i] * (k[i] - 1) - 1;
    const size = (ceil ? Math.ceil(span / s[i]) : Math.floor(span / s[i])) + 1;
    if (size !== got[2 + i])
      c.fail(
        `ONNX would pool to ${size} where ATen gives ${got[2 + i]} (a ceil-mode window starting in the padding); export at an input size where the windows fit`,
      );
  }
}

function pool(c: OpContext, op: "MaxPool" | "AveragePool"): string[] {
  const k = pairOf(c, "kernel_size");
  const strideRaw = c.ints("stride");
  const s: [number, number] = strideRaw.length ? pairOf(c, "stride") : k;
  const p = pairOf(c, "padding");
  const d: [number, number] = op === "MaxPool" ? pairOf(c, "dilation") : [1, 1];
  const ceil = c.arg("ceil_mode") === true;
  checkPoolSize(c, k, s, p, d, ceil);
  const attrs = {
    kernel_shape: ints(k),
    strides: ints(s),
    pads: ints([p[0], p[1], p[0], p[1]]),
    ceil_mode: int(ceil),
  };
  if (op === "MaxPool") return c.node(op, [c.input("self")], { ...attrs, dilations: ints(d) });
  if (c.arg("divisor_override") !== null && c.arg("divisor_override") !== undefined)
    c.fail("ONNX AveragePool has no divisor override");
  return c.node(op, [c.input("self")], {
    ...attrs,
    count_include_pad: int(c.arg("count_include_pad") !== false),
  });
}

const unary =
  (op: string): OpRule =>
  (c) =>
    c.node(op, [c.input("self")]);

/** self op other·alpha, with `other` a tensor or a scalar. */
const binary =
  (op: "Add" | "Sub" | "Mul" | "Div", other: "tensor" | "scalar"): OpRule =>
  (c) => {
    const dtype = c.info("self").dtype;
    const alpha = c.call.schema.args.some((a) => a.name === "alpha") ? c.num("alpha") : 1;
    let b: string;
    if (other === "scalar") b = c.scalar(c.num("other") * alpha, dtype);
    else {
      b = c.input("other");
      if (alpha !== 1) b = c.node("Mul", [b, c.scalar(alpha, c.info("other").dtype)])[0];
    }
    return c.node(op, [c.input("self"), b]);
  };

/** A comparison, with `other` a tensor or a scalar (of self's dtype); `negate` for ≠. */
const compare =
  (
    op: "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "Equal",
    other: "tensor" | "scalar",
    negate = false,
  ): OpRule =>
  (c) => {
    const b =
      other === "scalar" ? c.scalar(c.num("other"), c.info("self").dtype) : c.input("other");
    const y = c.node(op, [c.input("self"), b]);
    return negate ? c.node("Not", y) : y;
  };

/** A tensor as bool (nonzero is true), as ATen's logical operators read their inputs. */
function asBool(c: OpContext, name: string): string {
  return c.info(name).dtype === "bool"
    ? c.input(name)
    : c.node("Cast", [c.input(name)], { to: int(onnxElemType("bool")) })[0];
}

/** zeros_like, ones_like, full_like: the value broadcast to the input's (run-time) shape. */
const filledLike =
  (value: (c: OpContext) => number): OpRule =>
  (c) => {
    const shape = c.node("Shape", [c.input("self")])[0];
    return c.node("Expand", [c.scalar(value(c), c.out().dtype), shape]);
  };

/** Results that are the input itself: layout and evaluation-mode no-ops. */
const same: OpRule = (c) => {
  const name = c.call.schema.args[0].name;
  const from = c.info(name);
  if (from.dtype !== c.out().dtype)
    return c.node("Cast", [c.input(name)], { to: int(onnxElemType(c.out().dtype)) });
  return [c.input(name)];
};

/**
 * Any reshaping (reshape, view, flatten, squeeze, unsqueeze): a Reshape to the recorded result
 * shape, with -1 at the axis that follows the batch size (at most one can).
 */
const reshape: OpRule = (c) => {
  const o = c.out();
  if (o.batchAxes.length > 1)
    c.fail(
      `its result [${o.shape}] has ${o.batchAxes.length} axes that follow the batch size; export for one batch size with --batch N`,
    );
  const target = o.shape.map((n, k) => (o.batchAxes.includes(k) ? -1 : n));
  return c.node("Reshape", [c.input("self"), c.i64(target)]);
};

/** Concatenation of the list `tensors` along `dim`, each first given a new axis `dim` (stack). */
function concat(c: OpContext, stack: boolean): string[] {
  const rank = c.out().shape.length;
  const axis = norm(c.num("dim"), rank);
  let parts = c.inputs("tensors");
  if (stack) parts = parts.map((t) => c.node("Unsqueeze", [t, c.i64([axis])])[0]);
  return c.node("Concat", parts, { axis: int(axis) });
}

/** A dimension argument of `self`, normalised; refused when it is the batch axis. */
function staticDim(c: OpContext, argName: string, what: string): number {
  const self = c.info("self");
  const d = norm(c.num(argName), self.shape.length);
  if (self.batchAxes.includes(d))
    c.fail(`it ${what} the batch axis; export for one batch size with --batch N`);
  return d;
}

function slice(
  c: OpContext,
  x: string,
  axes: number[],
  starts: (number | bigint)[],
  ends: (number | bigint)[],
  steps?: number[],
): string {
  const inputs = [x, c.i64(starts), c.i64(ends), c.i64(axes)];
  if (steps) inputs.push(c.i64(steps));
  return c.node("Slice", inputs)[0];
}

/** ATen's pad list (last dimension first: [left, right, top, bottom, …]) as ONNX pads. */
function constantPad(c: OpContext): string[] {
  const self = c.info("self");
  const rank = self.shape.length;
  const pad = c.ints("pad");
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  for (let i = 0; i < pad.length / 2; i++) {
    begin[rank - 1 - i] = pad[2 * i];
    end[rank - 1 - i] = pad[2 * i + 1];
  }
  let x = c.input("self");
  // Negative padding crops (Shake-Shake's one-pixel shift): a Slice, then a Pad of the rest.
  const cropped = begin.map((b, k) => b < 0 || end[k] < 0);
  if (cropped.some(Boolean)) {
    const axes = cropped.flatMap((on, k) => (on ? [k] : []));
    x = slice(
      c,
      x,
      axes,
      axes.map((k) => Math.max(0, -begin[k])),
      axes.map((k) => (end[k] < 0 ? self.shape[k] + end[k] : INT64_MAX)),
    );
  }
  const pads = [...begin.map((b) => Math.max(0, b)), ...end.map((e) => Math.max(0, e))];
  if (pads.every((p) => p === 0)) return x === c.input("self") ? c.node("Identity", [x]) : [x];
  return c.node("Pad", [x, c.i64(pads), c.scalar(c.num("value"), self.dtype)], {
    mode: str("constant"),
  });
}

function batchNorm(c: OpContext): string[] {
  if (c.arg("training") === true)
    c.fail(
      "batch normalisation with batch statistics (training mode, or a BatchNorm2d without running statistics) has no evaluation-mode graph",
    );
  if (!c.has("running_mean") || !c.has("running_var"))
    c.fail("batch normalisation without running statistics");
  const x = c.info("input");
  const channels = x.shape[1];
  const filled = (v: number) => {
    const data = new Float32Array(channels).fill(v);
    return c.g.initializer(
      c.g.unique("bn_default"),
      "f32",
      [channels],
      new Uint8Array(data.buffer),
    );
  };
  const scale = c.has("weight") ? c.input("weight") : filled(1);
  const bias = c.has("bias") ? c.input("bias") : filled(0);
  return c.node(
    "BatchNormalization",
    [c.input("input"), scale, bias, c.input("running_mean"), c.input("running_var")],
    { epsilon: float(c.num("eps")) },
  );
}

function conv(c: OpContext): string[] {
  const w = c.info("weight").shape;
  if (w.length !== 4) c.fail(`a ${w.length - 2}-D convolution (divco exports 2-D ones)`);
  const [ph, pw] = pairOf(c, "padding");
  const inputs = [c.input("input"), c.input("weight")];
  if (c.has("bias")) inputs.push(c.input("bias"));
  return c.node("Conv", inputs, {
    kernel_shape: ints(w.slice(2)),
    strides: ints(pairOf(c, "stride")),
    pads: ints([ph, pw, ph, pw]),
    dilations: ints(pairOf(c, "dilation")),
    group: int(c.num("groups")),
  });
}

function linear(c: OpContext): string[] {
  const x = c.info("input");
  if (x.shape.length === 2) {
    const inputs = [c.input("input"), c.input("weight")];
    if (c.has("bias")) inputs.push(c.input("bias"));
    return c.node("Gemm", inputs, { transB: int(1) });
  }
  const wt = c.node("Transpose", [c.input("weight")], { perm: ints([1, 0]) })[0];
  const y = c.node("MatMul", [c.input("input"), wt]);
  return c.has("bias") ? c.node("Add", [y[0], c.input("bias")]) : y;
}

/** Clip with optional scalar bounds (given as arguments `lo` and `hi`). */
function clip(c: OpContext, lo: unknown, hi: unknown): string[] {
  const dtype = c.info("self").dtype;
  const bound = (v: unknown) => (v === null || v === undefined ? "" : c.scalar(Number(v), dtype));
  return c.node("Clip", [c.input("self"), bound(lo), bound(hi)]);
}

function gelu(c: OpContext): string[] {
  const approximate = String(c.arg("approximate"));
  if (c.opset >= 20) return c.node("Gelu", [c.input("self")], { approximate: str(approximate) });
  if (approximate !== "none")
    c.fail(`gelu(approximate="${approximate}") needs --opset 20 or later`);
  // 0.5 · x · (1 + erf(x / √2))
  const x = c.input("self");
  const dtype = c.info("self").dtype;
  const e = c.node("Erf", [c.node("Div", [x, c.scalar(Math.SQRT2, dtype)])[0]])[0];
  const onePlus = c.node("Add", [e, c.scalar(1, dtype)])[0];
  return c.node("Mul", [c.node("Mul", [x, onePlus])[0], c.scalar(0.5, dtype)]);
}

function softmaxLike(op: "Softmax" | "LogSoftmax"): OpRule {
  return (c) => {
    const self = c.info("self");
    const x = castTo(c, c.input("self"), self.dtype, c.arg("dtype"));
    return c.node(op, [x], { axis: int(norm(c.num("dim"), self.shape.length)) });
  };
}

function reduction(op: string, keep: "arg" | false): OpRule {
  return (c) => {
    const self = c.info("self");
    const hasDim = c.call.schema.args.some((a) => a.name === "dim");
    const axes = hasDim ? reduceAxes(c.arg("dim"), self.shape.length) : null;
    const hasDtype = c.call.schema.args.some((a) => a.name === "dtype");
    const x = hasDtype ? castTo(c, c.input("self"), self.dtype, c.arg("dtype")) : c.input("self");
    return [reduce(c, op, x, axes, keep === "arg" ? c.arg("keepdim") === true : false)];
  };
}

function split(c: OpContext): string[] {
  const d = staticDim(c, "dim", "splits");
  const sizes = Array.from({ length: c.outputs }, (_, k) => c.out(k).shape[d]);
  return c.node("Split", [c.input("self"), c.i64(sizes)], { axis: int(d) }, sizes.length);
}

function expand(c: OpContext, target: OutputInfo): string[] {
  const self = c.info("self");
  const lead = target.shape.length - self.shape.length;
  // 1 where the input already has the size (broadcast keeps it, batch axis included).
  const shape = target.shape.map((n, k) => {
    const own = k >= lead ? self.shape[k - lead] : 1;
    if (own === n) return 1;
    if (target.batchAxes.includes(k))
      c.fail(
        "it expands a size-1 axis to the batch size; export for one batch size with --batch N",
      );
    return n;
  });
  return c.node("Expand", [c.input("self"), c.i64(shape)]);
}

export const RULES: Record<string, OpRule> = {
  // layers
  conv2d: conv,
  batch_norm: batchNorm,
  linear,
  layer_norm: (c) => {
    if (c.opset < 17) c.fail("LayerNormalization needs --opset 17 or later");
    const shape = c.ints("normalized_shape");
    const n = shape.reduce((a, b) => a * b, 1);
    const filled = (v: number) =>
      c.g.initializer(
        c.g.unique("ln_default"),
        "f32",
        shape,
        new Uint8Array(new Float32Array(n).fill(v).buffer),
      );
    return c.node(
      "LayerNormalization",
      [
        c.input("input"),
        c.has("weight") ? c.input("weight") : filled(1),
        c.has("bias") ? c.input("bias") : filled(0),
      ],
      { axis: int(-shape.length), epsilon: float(c.num("eps")) },
    );
  },
  matmul: (c) => c.node("MatMul", [c.input("self"), c.input("other")]),
  mm: (c) => c.node("MatMul", [c.input("self"), c.input("mat2")]),
  bmm: (c) => c.node("MatMul", [c.input("self"), c.input("mat2")]),
  max_pool2d: (c) => pool(c, "MaxPool"),
  avg_pool2d: (c) => pool(c, "AveragePool"),
  adaptive_avg_pool2d: (c) => {
    const [h, w] = c.info("self").shape.slice(2);
    const [oh, ow] = c.ints("output_size", 2);
    if (oh === 1 && ow === 1) return c.node("GlobalAveragePool", [c.input("self")]);
    if (h % oh || w % ow)
      c.fail(`an adaptive pool from ${h}×${w} to ${oh}×${ow} has no fixed ONNX window`);
    const k = [h / oh, w / ow];
    return c.node("AveragePool", [c.input("self")], { kernel_shape: ints(k), strides: ints(k) });
  },
  // activations
  relu: unary("Relu"),
  relu_: unary("Relu"),
  sigmoid: unary("Sigmoid"),
  sigmoid_: unary("Sigmoid"),
  tanh: unary("Tanh"),
  silu: (c) => c.node("Mul", [c.input("self"), c.node("Sigmoid", [c.input("self")])[0]]),
  silu_: (c) => c.node("Mul", [c.input("self"), c.node("Sigmoid", [c.input("self")])[0]]),
  hardtanh: (c) => clip(c, c.arg("min_val"), c.arg("max_val")),
  hardtanh_: (c) => clip(c, c.arg("min_val"), c.arg("max_val")),
  clamp: (c) => clip(c, c.arg("min"), c.arg("max")),
  clamp_: (c) => clip(c, c.arg("min"), c.arg("max")),
  hardsigmoid: (c) =>
    c.node("HardSigmoid", [c.input("self")], { alpha: float(1 / 6), beta: float(0.5) }),
  hardswish: (c) => {
    if (c.opset >= 14) return c.node("HardSwish", [c.input("self")]);
    const gate = c.node("HardSigmoid", [c.input("self")], {
      alpha: float(1 / 6),
      beta: float(0.5),
    });
    return c.node("Mul", [c.input("self"), gate[0]]);
  },
  gelu,
  leaky_relu: (c) =>
    c.node("LeakyRelu", [c.input("self")], { alpha: float(c.num("negative_slope")) }),
  "softmax.int": softmaxLike("Softmax"),
  "log_softmax.int": softmaxLike("LogSoftmax"),
  // elementwise arithmetic
  "add.Tensor": binary("Add", "tensor"),
  "add_.Tensor": binary("Add", "tensor"),
  "add.Scalar": binary("Add", "scalar"),
  "add_.Scalar": binary("Add", "scalar"),
  "sub.Tensor": binary("Sub", "tensor"),
  "sub_.Tensor": binary("Sub", "tensor"),
  "sub.Scalar": binary("Sub", "scalar"),
  "mul.Tensor": binary("Mul", "tensor"),
  "mul_.Tensor": binary("Mul", "tensor"),
  "mul.Scalar": binary("Mul", "scalar"),
  "mul_.Scalar": binary("Mul", "scalar"),
  "div.Tensor": binary("Div", "tensor"),
  "div_.Tensor": binary("Div", "tensor"),
  "div.Scalar": binary("Div", "scalar"),
  "div_.Scalar": binary("Div", "scalar"),
  "pow.Tensor_Scalar": (c) =>
    c.node("Pow", [c.input("self"), c.scalar(c.num("exponent"), c.info("self").dtype)]),
  "pow.Tensor_Tensor": (c) => c.node("Pow", [c.input("self"), c.input("exponent")]),
  maximum: (c) => c.node("Max", [c.input("self"), c.input("other")]),
  minimum: (c) => c.node("Min", [c.input("self"), c.input("other")]),
  "where.self": (c) => c.node("Where", [c.input("condition"), c.input("self"), c.input("other")]),
  neg: unary("Neg"),
  abs: unary("Abs"),
  exp: unary("Exp"),
  log: unary("Log"),
  sqrt: unary("Sqrt"),
  reciprocal: unary("Reciprocal"),
  floor: unary("Floor"),
  ceil: unary("Ceil"),
  round: unary("Round"),
  sign: unary("Sign"),
  sin: unary("Sin"),
  cos: unary("Cos"),
  rsqrt: (c) => c.node("Reciprocal", [c.node("Sqrt", [c.input("self")])[0]]),
  log1p: (c) =>
    c.node("Log", [c.node("Add", [c.input("self"), c.scalar(1, c.info("self").dtype)])[0]]),
  // comparisons and logic
  "gt.Scalar": compare("Greater", "scalar"),
  "gt.Tensor": compare("Greater", "tensor"),
  "lt.Scalar": compare("Less", "scalar"),
  "lt.Tensor": compare("Less", "tensor"),
  "ge.Scalar": compare("GreaterOrEqual", "scalar"),
  "ge.Tensor": compare("GreaterOrEqual", "tensor"),
  "le.Scalar": compare("LessOrEqual", "scalar"),
  "le.Tensor": compare("LessOrEqual", "tensor"),
  "eq.Scalar": compare("Equal", "scalar"),
  "eq.Tensor": compare("Equal", "tensor"),
  "ne.Scalar": compare("Equal", "scalar", true),
  "ne.Tensor": compare("Equal", "tensor", true),
  logical_not: (c) => c.node("Not", [asBool(c, "self")]),
  logical_and: (c) => c.node("And", [asBool(c, "self"), asBool(c, "other")]),
  logical_or: (c) => c.node("Or", [asBool(c, "self"), asBool(c, "other")]),
  isnan: unary("IsNaN"),
  "masked_fill.Scalar": (c) =>
    c.node("Where", [
      asBool(c, "mask"),
      c.scalar(c.num("value"), c.info("self").dtype),
      c.input("self"),
    ]),
  zeros_like: filledLike(() => 0),
  ones_like: filledLike(() => 1),
  full_like: filledLike((c) => c.num("fill_value")),
  // reductions
  "mean.dim": reduction("ReduceMean", "arg"),
  mean: reduction("ReduceMean", false),
  "sum.dim_IntList": reduction("ReduceSum", "arg"),
  sum: reduction("ReduceSum", false),
  amax: reduction("ReduceMax", "arg"),
  amin: reduction("ReduceMin", "arg"),
  max: reduction("ReduceMax", false),
  min: reduction("ReduceMin", false),
  logsumexp: reduction("ReduceLogSumExp", "arg"),
  "max.dim": (c) => {
    const self = c.info("self");
    const d = norm(c.num("dim"), self.shape.length);
    const keep = c.arg("keepdim") === true;
    return [
      reduce(c, "ReduceMax", c.input("self"), [d], keep),
      c.node("ArgMax", [c.input("self")], { axis: int(d), keepdims: int(keep) })[0],
    ];
  },
  // joins and layout
  cat: (c) => concat(c, false),
  stack: (c) => concat(c, true),
  reshape,
  view: reshape,
  _unsafe_view: reshape,
  "flatten.using_ints": reshape,
  squeeze: reshape,
  "squeeze.dim": reshape,
  unsqueeze: reshape,
  permute: (c) => {
    const rank = c.info("self").shape.length;
    return c.node("Transpose", [c.input("self")], {
      perm: ints(c.ints("dims").map((d) => norm(d, rank))),
    });
  },
  "transpose.int": (c) => {
    const rank = c.info("self").shape.length;
    const perm = Array.from({ length: rank }, (_, k) => k);
    const a = norm(c.num("dim0"), rank);
    const b = norm(c.num("dim1"), rank);
    [perm[a], perm[b]] = [perm[b], perm[a]];
    return c.node("Transpose", [c.input("self")], { perm: ints(perm) });
  },
  t: (c) =>
    c.info("self").shape.length < 2
      ? [c.input("self")]
      : c.node("Transpose", [c.input("self")], { perm: ints([1, 0]) }),
  expand: (c) => expand(c, c.out()),
  expand_as: (c) => expand(c, c.out()),
  narrow: (c) => {
    const d = staticDim(c, "dim", "narrows");
    const size = c.info("self").shape[d];
    const start = norm(c.num("start"), size);
    return [slice(c, c.input("self"), [d], [start], [start + c.num("length")])];
  },
  "slice.Tensor": (c) => {
    const d = staticDim(c, "dim", "slices");
    const start = c.arg("start");
    const end = c.arg("end");
    return [
      slice(
        c,
        c.input("self"),
        [d],
        [start === null || start === undefined ? 0 : Number(start)],
        [end === null || end === undefined ? INT64_MAX : Number(end)],
        [c.num("step")],
      ),
    ];
  },
  "select.int": (c) => {
    const d = staticDim(c, "dim", "selects from");
    const index = norm(c.num("index"), c.info("self").shape[d]);
    return c.node("Gather", [c.input("self"), c.i64([index], true)], { axis: int(d) });
  },
  flip: (c) => {
    const rank = c.info("self").shape.length;
    const axes = c.ints("dims").map((d) => norm(d, rank));
    return [
      slice(
        c,
        c.input("self"),
        axes,
        axes.map(() => -1),
        axes.map(() => INT64_MIN),
        axes.map(() => -1),
      ),
    ];
  },
  "split.Tensor": split,
  split_with_sizes: split,
  chunk: split,
  constant_pad_nd: constantPad,
  // no-ops in an evaluation graph (and dtype conversions)
  contiguous: same,
  clone: same,
  detach: same,
  alias: same,
  "to.dtype": same,
  "to.device": same,
  "to.dtype_layout": same,
  dropout: same,
  feature_dropout: same,
  // The source broadcast to the destination's (run-time) shape, in the destination's dtype.
  copy_: (c) => {
    const self = c.info("self");
    let x = c.input("src");
    if (c.info("src").dtype !== self.dtype)
      x = c.node("Cast", [x], { to: int(onnxElemType(self.dtype)) })[0];
    return c.node("Expand", [x, c.node("Shape", [c.input("self")])[0]]);
  },
};

/** The ATen operators that have a rule, for messages. */
export function mappedOperators(): string[] {
  return Object.keys(RULES).sort();
}
