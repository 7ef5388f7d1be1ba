// The S member networks of a divided model, held as `models.0 … models.{S-1}` like the
// reference's SplitNet, so checkpoints load both ways. Co-training logic lives in cotrain/;
// this is only the container and the ensemble forward used for evaluation and inference.
import { Module } from "../nn/module.js";
import { ModuleList } from "../nn/layers/containers.js";
import type { Tensor } from "../tensor/tensor.js";
import type { BuildOptions } from "./registry.js";
import { ensemble } from "./ensemble.js";

export class Members extends Module {
  readonly models: ModuleList;

  constructor(
    readonly arch: string,
    readonly options: BuildOptions,
    members: Module[],
  ) {
    super();
    this.models = this.module("models", new ModuleList(members));
  }

  get split(): number {
    return this.models.length;
  }

  /** Every member's logits for the same input (evaluation), or for its own view (views[i]). */
  forwardEach(x: Tensor | Tensor[]): Tensor[] {
    if (Array.isArray(x) && x.length !== this.split) {
      throw new RangeError(`${this.arch}: ${x.length} views given for ${this.split} members`);
    }
    const views = Array.isArray(x) ? x : [x];
    for (const v of views) this.checkInput(v);
    try {
      return this.models.items.map((m, i) => m.forward(Array.isArray(x) ? x[i] : x));
    } catch (e) {
      // An input smaller than the crop the model was built for can shrink to nothing inside it
      // (a 2×2 input after DenseNet's transitions); say so next to the operator's own message.
      const [, , h, w] = views[0].shape;
      const crop = this.options.crop;
      if (h < crop || w < crop)
        throw new RangeError(
          `${this.arch}: the forward pass failed on a ${h}×${w} input, smaller than the ${crop}×${crop} images the model is built for (it may shrink to nothing inside the network): ${(e as Error).message}`,
        );
      throw e;
    }
  }

  /** One shape check per forward: images N×3×H×W with H, W ≥ 1, before any layer runs. */
  private checkInput(x: Tensor): void {
    const s = x.shape;
    if (s.length !== 4 || s[1] !== 3 || s[2] < 1 || s[3] < 1)
      throw new RangeError(
        `${this.arch}: input of shape [${s.join(", ")}]; expected images N×3×H×W with H and W at least 1 (the model is built for ${this.options.crop}×${this.options.crop})`,
      );
  }

  /** The ensemble's logits: the mean of the members' logits (the reference's default, REFERENCE.md §4). */
  forward(x: Tensor): Tensor {
    const outs = this.forwardEach(x);
    try {
      return ensemble("mean_logits", outs);
    } finally {
      for (const o of outs) o.dispose();
    }
  }
}
