// Batch-norm folding for the exported graph: an evaluation-mode BatchNorm whose input is a
// convolution's result that nothing else reads is a per-channel affine map of that result, so
// it moves into the convolution's weights and bias:
//   s = γ / √(running_var + ε),  W' = W · s (per output channel),  b' = (b − running_mean) · s + β.
// One Conv node instead of Conv + BatchNormalization, the form inference runtimes run fastest.
// The numbers are computed in float64 (by libtorch) and stored as float32.
import { tensor } from "../tensor/creation.js";
import { scope } from "../tensor/scope.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Trace, TraceArg, TraceCall, TraceValue } from "./trace.js";

export interface FoldedConv {
  /** The BN call folded into this convolution. */
  bn: TraceCall;
  /** The convolution's own weight (its name and shape). */
  original: TraceValue;
  weight: Float32Array;
  bias: Float32Array;
}

export interface FoldPlan {
  /** Convolution call index → its folded weight and bias. */
  convs: Map<number, FoldedConv>;
  /** BN call index → the conv result that replaces the BN's result. */
  removed: Map<number, number>;
}

const arg = (c: TraceCall, name: string): TraceArg =>
  c.args[c.schema.args.findIndex((a) => a.name === name)];

/** A stored value as a float64 CPU tensor (freed by the caller's scope). */
function f64(v: TraceValue): Tensor {
  const t = v.tensor ?? tensor(new Float32Array(v.bytes!.slice().buffer), { shape: v.shape });
  return t.to({ dtype: "f64", device: "cpu" });
}

const f32Array = (t: Tensor): Float32Array => t.to("f32").toTypedArray() as Float32Array;

/** A weight the graph holds as an initializer (a parameter or constant of float32), or null. */
function stored(trace: Trace, a: TraceArg | undefined): TraceValue | null | undefined {
  if (!a || a.kind !== "tensor") return undefined;
  if (a.value === null) return null;
  const v = trace.values[a.value];
  return (v.kind === "param" || v.kind === "const") && v.dtype === "f32" ? v : undefined;
}

/** Finds every foldable conv → BN pair of a trace and computes the folded weights. */
export function planBatchNormFolding(trace: Trace): FoldPlan {
  const producer = new Map<number, TraceCall>();
  const readers = new Map<number, number>();
  for (const c of trace.calls) {
    for (const o of c.outputs) producer.set(o, c);
    for (const a of c.args) {
      const ids =
        a.kind === "tensor"
          ? a.value === null
            ? []
            : [a.value]
          : a.kind === "tensors"
            ? a.values
            : [];
      for (const id of ids) readers.set(id, (readers.get(id) ?? 0) + 1);
    }
  }
  for (const id of trace.outputs.values()) readers.set(id, (readers.get(id) ?? 0) + 1);

  const plan: FoldPlan = { convs: new Map(), removed: new Map() };
  for (const bn of trace.calls) {
    if (bn.spec !== "batch_norm") continue;
    const training = arg(bn, "training");
    if (training.kind !== "other" || training.value !== false) continue;
    const input = arg(bn, "input");
    if (input.kind !== "tensor" || input.value === null) continue;
    const conv = producer.get(input.value);
    if (!conv || conv.spec !== "conv2d" || readers.get(input.value) !== 1) continue;
    if (plan.convs.has(conv.index)) continue;
    const w = stored(trace, arg(conv, "weight"));
    const b = stored(trace, arg(conv, "bias"));
    const gamma = stored(trace, arg(bn, "weight"));
    const beta = stored(trace, arg(bn, "bias"));
    const mean = stored(trace, arg(bn, "running_mean"));
    const variance = stored(trace, arg(bn, "running_var"));
    if (!w || b === undefined || gamma === undefined || beta === undefined || !mean || !variance)
      continue;
    const epsArg = arg(bn, "eps");
    const eps = epsArg.kind === "other" ? Number(epsArg.value) : 1e-5;
    const { weight, bias } = scope(() => {
      let scale = f64(variance).add(eps).rsqrt();
      if (gamma) scale = scale.mul(f64(gamma));
      let shift = b ? f64(b).sub(f64(mean)) : f64(mean).neg();
      shift = shift.mul(scale);
      if (beta) shift = shift.add(f64(beta));
      const perChannel = [w.shape[0], ...w.shape.slice(1).map(() => 1)];
      return { weight: f32Array(f64(w).mul(scale.reshape(perChannel))), bias: f32Array(shift) };
    });
    plan.convs.set(conv.index, { bn, original: w, weight, bias });
    plan.removed.set(bn.index, input.value);
  }
  return plan;
}
