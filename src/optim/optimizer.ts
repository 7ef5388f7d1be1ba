// Optimiser base: parameter groups, per-parameter state, and state save/restore for resuming.
// Updates run as ATen foreach kernels over whole parameter lists (one call per list, not per
// parameter or element).
import { Tensor } from "../tensor/tensor.js";
import { native } from "../tensor/native.js";
import { noGrad } from "../tensor/autograd.js";

export interface ParamGroup<H> {
  params: Tensor[];
  /** Hyper-parameters of this group (lr, weight decay, ...); schedulers change them between steps. */
  options: H;
}

export type ParamsInput<H> = Tensor[] | { params: Tensor[]; options?: Partial<H> }[];

/** What `stateDict` returns: hyper-parameters per group, and state tensors keyed "index.name". */
export interface OptimizerState {
  kind: string;
  groups: { options: Record<string, unknown>; params: number[] }[];
  scalars: Record<string, number>;
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer<H extends { lr: number }> {
  readonly groups: ParamGroup<H>[];
  /** Per-parameter state tensors (momentum buffers, moments), by parameter. */
  protected readonly state = new Map<Tensor, Record<string, Tensor>>();
  /** Per-parameter step counters. */
  protected readonly steps = new Map<Tensor, number>();

  constructor(
    params: ParamsInput<H>,
    defaults: H,
    protected readonly kind: string,
  ) {
    const list =
      params.length && params[0] instanceof Tensor
        ? [{ params: params as Tensor[] }]
        : (params as { params: Tensor[]; options?: Partial<H> }[]);
    const seen = new Set<Tensor>();
    this.groups = list.map((g, gi) => {
      for (const p of g.params) {
        if (seen.has(p))
          throw new Error(`${kind}: a parameter appears in more than one group (group ${gi})`);
        seen.add(p);
      }
      const options = { ...defaults, ...(g.options ?? {}) } as H;
      this.validate(options);
      return { params: g.params, options };
    });
  }

  protected abstract validate(o: H): void;
  /** Updates one group; grads[i] is params[i]'s gradient (only parameters that have one). */
  protected abstract update(group: ParamGroup<H>, params: Tensor[], grads: Tensor[]): void;

  /** One optimisation step over every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const g of this.groups) {
        const params: Tensor[] = [];
        const grads: Tensor[] = [];
        for (const p of g.params) {
          const grad = p.grad;
          if (grad) {
            params.push(p);
            grads.push(grad);
          }
        }
        if (params.length === 0) continue;
        try {
          this.update(g, params, grads);
        } finally {
          for (const t of grads) t.dispose();
        }
      }
    });
  }

  /** Drops gradients (set to none, the cheaper and PyTorch 2 default). */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) native.setGrad(p.handle, null);
  }

  /** Sets the learning rate of every group. */
  setLr(lr: number): void {
    for (const g of this.groups) g.options.lr = lr;
  }

  protected stateOf(p: Tensor): Record<string, Tensor> {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** Hyper-parameters and state, to save with a checkpoint. The tensors are the live state. */
  stateDict(): OptimizerState {
    const index = new Map<Tensor, number>();
    const groups = this.groups.map((g) => ({
      options: { ...g.options } as Record<string, unknown>,
      params: g.params.map((p) => {
        index.set(p, index.size);
        return index.size - 1;
      }),
    }));
    const tensors = new Map<string, Tensor>();
    const scalars: Record<string, number> = {};
    for (const [p, s] of this.state)
      for (const [k, t] of Object.entries(s)) tensors.set(`${index.get(p)}.${k}`, t);
    for (const [p, n] of this.steps) scalars[`${index.get(p)}.step`] = n;
    return { kind: this.kind, groups, scalars, tensors };
  }

  /** Restores what stateDict saved (copies into fresh state tensors). Checks before changing anything. */
  loadStateDict(s: OptimizerState): void {
    if (s.kind !== this.kind)
      throw new Error(`loadStateDict: state is for ${s.kind}, this optimiser is ${this.kind}`);
    if (
      s.groups.length !== this.groups.length ||
      s.groups.some((g, i) => g.params.length !== this.groups[i].params.length)
    ) {
      throw new Error(
        `loadStateDict: saved groups have [${s.groups.map((g) => g.params.length)}] parameters, ` +
          `this optimiser has [${this.groups.map((g) => g.params.length)}]`,
      );
    }
    const byIndex = this.groups.flatMap((g) => g.params);
    for (const [k, t] of s.tensors) {
      const i = Number(k.slice(0, k.indexOf(".")));
      const p = byIndex[i];
      if (!p)
        throw new Error(`loadStateDict: state "${k}" names parameter ${i}, which does not exist`);
      if (t.numel !== p.numel)
        throw new Error(
          `loadStateDict: state "${k}" has ${t.numel} elements, parameter ${i} has ${p.numel}`,
        );
    }
    for (const st of this.state.values()) for (const t of Object.values(st)) t.dispose();
    this.state.clear();
    this.steps.clear();
    s.groups.forEach((g, i) => Object.assign(this.groups[i].options, g.options));
    noGrad(() => {
      for (const [k, t] of s.tensors) {
        const dot = k.indexOf(".");
        const p = byIndex[Number(k.slice(0, dot))];
        this.stateOf(p)[k.slice(dot + 1)] = t
          .to({ device: p.device, dtype: t.dtype })
          .clone()
          .keep();
      }
    });
    for (const [k, n] of Object.entries(s.scalars))
      this.steps.set(byIndex[Number(k.slice(0, k.indexOf(".")))], n);
  }

  /** Frees the optimiser's state tensors. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of Object.values(st)) t.dispose();
    this.state.clear();
  }
}

export function checkNonNegative(kind: string, name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0))
    throw new RangeError(`${kind}: ${name} must be a finite number ≥ 0, got ${v}`);
}
