// Containers: Sequential runs children in order; ModuleList only holds them.
import { Module } from "../module.js";
import { Tensor } from "../../tensor/tensor.js";

/**
 * Applies modules in order, disposing each intermediate once the next has consumed it (never
 * the input; an in-place layer that returns its input is not disposed twice).
 */
export function runInOrder(x: Tensor, layers: readonly Module[]): Tensor {
  let cur = x;
  for (const layer of layers) {
    const next = layer.forward(cur);
    if (cur !== x && next !== cur) cur.dispose();
    cur = next;
  }
  return cur;
}

/**
 * Runs its children in order, named "0", "1", ... as in PyTorch. Each intermediate result is
 * disposed as soon as the next layer has consumed it (autograd keeps what backward needs), so
 * activations do not pile up until the end of the step.
 */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.module(String(i), m));
  }

  forward(x: Tensor): Tensor {
    return runInOrder(x, this.layers);
  }

  get length(): number {
    return this.layers.length;
  }
  at(i: number): Module {
    return this.layers[i];
  }
}

/** Holds modules under "0", "1", ...; its owner decides how to call them. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  constructor(items: M[] = []) {
    super();
    for (const m of items) this.push(m);
  }

  push(m: M): M {
    this.items.push(this.module(String(this.items.length), m));
    return m;
  }

  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i];
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  forward(): Tensor {
    throw new Error("ModuleList has no forward: call its items");
  }
}
