// Containers and the one way activations flow through a chain of layers: `pipe` applies layers
// in order and frees each intermediate as soon as the next layer has consumed it, so a block's
// forward is one line per layer and activations never pile up until the end of the step
// (DESIGN.md §2: tensor lifetime decides speed; autograd keeps what backward needs by itself).
import { Module } from "../module.js";
import { Tensor } from "../../tensor/tensor.js";
import { markChannelAgnostic } from "../fusion.js";

/**
 * One step of a `pipe`: a module, a function of one tensor (`F.silu`, an in-place ReLU, …), or
 * null/undefined for an optional layer that this network does not have (a dropout of p = 0, a
 * missing attention module) — skipped.
 */
export type Layer = Module | ((x: Tensor) => Tensor) | null | undefined;

/**
 * x → layers[0] → layers[1] → …; each intermediate result is disposed once the next layer has
 * consumed it. The input is never disposed (the caller owns it — a residual block still needs
 * it for the shortcut); a layer that returns its own input (in-place ReLU, an open ShakeDrop
 * gate, Identity) is not disposed twice. Returns `x` itself when every layer is skipped or
 * returns its input, so an in-place first layer modifies the caller's tensor.
 */
export function pipe(x: Tensor, ...layers: Layer[]): Tensor {
  return run(x, layers, false);
}

/**
 * `pipe` for an input the caller hands over (a stage output, never a forward's own input): `x`
 * is freed too, as soon as the first layer has consumed it.
 */
export function consume(x: Tensor, ...layers: Layer[]): Tensor {
  return run(x, layers, true);
}

function run(x: Tensor, layers: Layer[], ownsInput: boolean): Tensor {
  let cur = x;
  for (const layer of layers) {
    if (!layer) continue;
    const next = layer instanceof Module ? layer.forward(cur) : layer(cur);
    if ((ownsInput || cur !== x) && next !== cur) cur.dispose();
    cur = next;
  }
  return cur;
}

/** Runs its children in order (`pipe`), named "0", "1", ... as in PyTorch's nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.module(String(i), m));
  }

  forward(x: Tensor): Tensor {
    return pipe(x, ...this.layers);
  }

  get length(): number {
    return this.layers.length;
  }
  at(i: number): Module {
    return this.layers[i];
  }
}

/**
 * A Sequential whose children have names — PyTorch's `nn.Sequential(OrderedDict(...))` — so
 * state-dict keys read `layer0.conv1.weight` instead of `layer0.0.weight`.
 */
export class NamedSequential extends Sequential {
  constructor(entries: [string, Module][] = []) {
    super();
    for (const [name, m] of entries) this.add(name, m);
  }

  /** Appends a child under `name` (for networks built stage by stage); returns this. */
  add(name: string, m: Module): this {
    this.layers.push(this.module(name, m));
    return this;
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

// Containers only pass activations from child to child (nn/fusion.ts).
markChannelAgnostic(Sequential, NamedSequential, ModuleList);
