// Parameter and compute accounting, found by walking the module tree and running one image —
// no per-model formulas, so every architecture (and any user model) is counted the same way.
//
// Two conventions, because the reference reports one and its tool prints another:
// - paper (REFERENCE.md §1.4): trainable parameters, and multiply-accumulates (MACs) of the
//   convolution and linear layers for one image at the dataset's crop. The tables' "GFLOPs"
//   are these MACs, summed over the S members.
// - summary.py (the official `utils/summary.py`): parameters include BN running mean/var
//   (not num_batches_tracked); "flops(M)" = ⌊(M+A)/2⌋ where M+A counts, per conv,
//   (2·Cin·k²−1)·Hout·Wout·Cout/groups plus Hout·Wout·Cout/groups for a bias, per linear
//   (2·in−1)·out plus out for a bias, and per affine BN 2·numel(input).
import { Module } from "../nn/module.js";
import { Conv2d } from "../nn/layers/conv.js";
import { Linear } from "../nn/layers/linear.js";
import { BatchNorm2d } from "../nn/layers/batchnorm.js";
import { zeros } from "../tensor/creation.js";
import { noGrad } from "../tensor/autograd.js";
import type { Tensor } from "../tensor/tensor.js";

export interface Counts {
  /** Trainable parameter elements (the paper's "Params"). */
  params: number;
  /** Multiply-accumulates of conv and linear layers for one image (the paper's "FLOPs"). */
  macs: number;
  /** Parameters as the official summary.py counts them (+ BN running statistics). */
  summaryParams: number;
  /** summary.py's "Total flops(M)": ⌊(mult + add)/2⌋, BN included. */
  summaryFlops: number;
}

/** One counted layer call (conv, linear or batch norm). */
export interface LayerCount {
  path: string;
  kind: "conv" | "linear" | "bn";
  inShape: number[];
  outShape: number[];
  macs: number;
  /** summary.py's mult+add count for this call. */
  summaryMultAdd: number;
}

export interface CountOptions {
  /** Input size C×H×W of one image; default 3×crop×crop. */
  inputShape?: [number, number, number];
  crop?: number;
  /** Keep the per-layer records (for a detailed listing). */
  layers?: boolean;
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function convCount(m: Conv2d, input: Tensor, out: Tensor): [number, number] {
  const [, oc, oh, ow] = out.shape;
  const [, icPerGroup, kh, kw] = m.weight.shape;
  const macs = oc * oh * ow * icPerGroup * kh * kw;
  const ic = input.shape[1];
  const perGroupOut = oh * ow * Math.floor(oc / m.groups);
  const multAdd = (2 * ic * kh * kw - 1) * perGroupOut + (m.bias ? perGroupOut : 0);
  return [macs, multAdd];
}

function linearCount(m: Linear, input: Tensor, out: Tensor): [number, number] {
  const rows = prod(out.shape.slice(0, -1)) || 1;
  const macs = rows * m.inFeatures * m.outFeatures;
  // summary.py ignores the batch/row count (it was written for one image).
  const multAdd = (2 * m.inFeatures - 1) * m.outFeatures + (m.bias ? m.outFeatures : 0);
  void input;
  return [macs, multAdd];
}

/**
 * Counts one network: parameters from its tensors, MACs by running one image through it in
 * eval mode without gradients, with Conv2d/Linear/BatchNorm2d forwards wrapped to record
 * their input and output sizes. The model's mode is restored and nothing stays allocated.
 */
export function countModule(
  model: Module,
  o: CountOptions = {},
): Counts & { layers?: LayerCount[] } {
  const params = model.numParameters(true);
  let bnStats = 0;
  for (const [, m] of model.namedModules()) {
    if (m instanceof BatchNorm2d)
      bnStats += (m.runningMean?.numel ?? 0) + (m.runningVar?.numel ?? 0);
  }
  const records: LayerCount[] = [];
  const wrapped: Module[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Conv2d || m instanceof Linear || m instanceof BatchNorm2d)) continue;
    const original = Object.getPrototypeOf(m).forward as (x: Tensor) => Tensor;
    const wrapper = function (this: Module, x: Tensor): Tensor {
      const y = original.call(this, x);
      let macs = 0;
      let multAdd = 0;
      let kind: LayerCount["kind"];
      if (m instanceof Conv2d) {
        kind = "conv";
        [macs, multAdd] = convCount(m, x, y);
      } else if (m instanceof Linear) {
        kind = "linear";
        [macs, multAdd] = linearCount(m, x, y);
      } else {
        kind = "bn";
        multAdd = prod(x.shape) * (m.weight ? 2 : 1);
      }
      records.push({
        path,
        kind,
        inShape: x.shape,
        outShape: y.shape,
        macs,
        summaryMultAdd: multAdd,
      });
      return y;
    };
    Object.defineProperty(m, "forward", { value: wrapper, configurable: true, writable: true });
    wrapped.push(m);
  }
  const modes = [...model.namedModules()].map(([, m]) => m.training);
  const shape = o.inputShape ?? [3, o.crop ?? 32, o.crop ?? 32];
  try {
    model.eval();
    noGrad(() => {
      const x = zeros([1, ...shape]);
      try {
        const y = model.forward(x);
        if (y !== x) y.dispose();
      } finally {
        x.dispose();
      }
    });
  } finally {
    for (const m of wrapped) delete (m as unknown as Record<string, unknown>).forward;
    [...model.namedModules()].forEach(([, m], i) => (m.training = modes[i]));
  }
  const macs = records.reduce((a, r) => a + r.macs, 0);
  const multAdd = records.reduce((a, r) => a + r.summaryMultAdd, 0);
  const out: Counts & { layers?: LayerCount[] } = {
    params,
    macs,
    summaryParams: params + bnStats,
    summaryFlops: Math.floor(multAdd / 2),
  };
  if (o.layers) out.layers = records;
  return out;
}

export interface SplitCounts {
  split: number;
  perMember: Counts[];
  total: Counts;
}

/** Counts each member of a divided model (anything with `models.items`) and their sum. */
export function countMembers(
  members: { models: { items: Module[] } },
  o: CountOptions = {},
): SplitCounts {
  const perMember = members.models.items.map((m) => countModule(m, { ...o, layers: false }));
  const total: Counts = { params: 0, macs: 0, summaryParams: 0, summaryFlops: 0 };
  for (const c of perMember) {
    total.params += c.params;
    total.macs += c.macs;
    total.summaryParams += c.summaryParams;
    total.summaryFlops += c.summaryFlops;
  }
  return { split: perMember.length, perMember, total };
}

/** 1234567 → "1.23M"; 5.5e9 → "5.50G". */
export function humanCount(n: number, digits = 2): string {
  for (const [v, s] of [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "K"],
  ] as const) {
    if (Math.abs(n) >= v) return `${(n / v).toFixed(digits)}${s}`;
  }
  return String(n);
}
