// Weight initialisation, in place and without recording gradients (torch.nn.init semantics).
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import type { Generator } from "../tensor/random.js";

export type FanMode = "fanIn" | "fanOut";
export type Nonlinearity = "relu" | "leakyRelu" | "linear" | "sigmoid" | "tanh" | "selu";

/** fan_in and fan_out of a weight: in/out features times the receptive field size. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  const s = t.shape;
  if (s.length < 2)
    throw new RangeError(`fans: need a weight with at least 2 dimensions, got [${s}]`);
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: s[1] * receptive, fanOut: s[0] * receptive };
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function gain(nonlinearity: Nonlinearity, a = 0.01): number {
  switch (nonlinearity) {
    case "linear":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu":
      return Math.sqrt(2 / (1 + a * a));
    case "selu":
      return 3 / 4;
  }
}

export interface KaimingOptions {
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const fan = fans(t)[o.mode ?? "fanIn"];
  const nl = o.nonlinearity ?? "leakyRelu";
  return gain(nl, o.a ?? 0) / Math.sqrt(fan);
}

export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const std = kaimingStd(t, o);
  return noGrad(() => t.normal_(0, std, o.generator));
}

export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return noGrad(() => t.uniform_(-bound, bound, o.generator));
}

export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return noGrad(() => t.normal_(mean, std, generator));
}

export function uniform_(t: Tensor, a = 0, b = 1, generator?: Generator): Tensor {
  return noGrad(() => t.uniform_(a, b, generator));
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}

export function zeros_(t: Tensor): Tensor {
  return noGrad(() => t.zero_());
}

export function ones_(t: Tensor): Tensor {
  return noGrad(() => t.fill_(1));
}

export function xavierUniform_(t: Tensor, gainValue = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = gainValue * Math.sqrt(6 / (fanIn + fanOut));
  return noGrad(() => t.uniform_(-bound, bound, generator));
}
