// Fully connected layer (torch.nn.Linear: same parameters, names and default initialisation).
import { Module } from "../module.js";
import { Tensor } from "../../tensor/tensor.js";
import { empty } from "../../tensor/creation.js";
import { linear } from "../functional.js";
import { kaimingUniform_, uniform_ } from "../init.js";

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.param("weight", empty([outFeatures, inFeatures]));
    this.bias = this.param("bias", o.bias === false ? null : empty([outFeatures]));
    this.resetParameters();
  }

  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = this.inFeatures > 0 ? 1 / Math.sqrt(this.inFeatures) : 0;
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
