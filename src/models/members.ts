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
    return this.models.items.map((m, i) => m.forward(Array.isArray(x) ? x[i] : x));
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
