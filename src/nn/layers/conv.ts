// 2-D convolution (torch.nn.Conv2d: same parameters, names and default initialisation).
import { Module } from "../module.js";
import { Tensor } from "../../tensor/tensor.js";
import { empty } from "../../tensor/creation.js";
import { conv2d } from "../functional.js";
import { fans, kaimingUniform_, uniform_ } from "../init.js";

type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: Pair,
    o: Conv2dOptions = {},
  ) {
    super();
    this.groups = o.groups ?? 1;
    if (
      !Number.isInteger(this.groups) ||
      this.groups < 1 ||
      inChannels % this.groups ||
      outChannels % this.groups
    ) {
      throw new RangeError(
        `Conv2d: in (${inChannels}) and out (${outChannels}) channels must both be divisible by groups (${this.groups})`,
      );
    }
    this.stride = o.stride ?? 1;
    this.padding = o.padding ?? 0;
    this.dilation = o.dilation ?? 1;
    const [kh, kw] = typeof kernelSize === "number" ? [kernelSize, kernelSize] : kernelSize;
    this.weight = this.param("weight", empty([outChannels, inChannels / this.groups, kh, kw]));
    this.bias = this.param("bias", o.bias === false ? null : empty([outChannels]));
    this.resetParameters();
  }

  /** PyTorch's default: kaiming_uniform(a=√5) for the weight, U(±1/√fan_in) for the bias. */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = 1 / Math.sqrt(fans(this.weight).fanIn);
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}
