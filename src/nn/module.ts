// Module: the base of every layer and model. Parameters, buffers and children are registered
// by name, so dotted names ("layer1.0.conv1.weight") equal PyTorch's state-dict keys and
// checkpoints move between divco and PyTorch unchanged.
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../tensor/autograd.js";
import { isFloating, type DType, type MemoryFormatName } from "../tensor/dtype.js";
import type { Device } from "../tensor/tensor.js";

export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

export class StateDictError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misShaped: { key: string; expected: number[]; got: number[] }[],
  ) {
    super(message);
    this.name = "StateDictError";
  }
}

export abstract class Module {
  /** Training mode: batch norm uses batch statistics, dropout drops. */
  training = true;
  private readonly _params = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _children = new Map<string, Module>();

  abstract forward(...inputs: Tensor[]): Tensor;

  // ---- registration -----------------------------------------------------------------------

  /** Registers a trainable parameter (kept alive, gradients on) and returns it. */
  protected param(name: string, t: Tensor): Tensor;
  protected param(name: string, t: Tensor | null): Tensor | null;
  protected param(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name);
    if (t) {
      t.keep();
      if (!t.requiresGrad) t.requiresGrad = true;
    }
    this._params.set(name, t);
    return t;
  }

  /** Registers persistent state that is not trained (running statistics) and returns it. */
  protected buffer(name: string, t: Tensor): Tensor;
  protected buffer(name: string, t: Tensor | null): Tensor | null;
  protected buffer(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name);
    t?.keep();
    this._buffers.set(name, t);
    return t;
  }

  /** Registers a child module and returns it. */
  protected module<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this._children.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (name === "" || name.includes("."))
      throw new Error(`${this.constructor.name}: invalid member name "${name}"`);
    if (this._params.has(name) || this._buffers.has(name) || this._children.has(name)) {
      throw new Error(`${this.constructor.name}: "${name}" is registered twice`);
    }
  }

  // ---- traversal --------------------------------------------------------------------------

  *namedChildren(): IterableIterator<[string, Module]> {
    yield* this._children.entries();
  }
  *children(): IterableIterator<Module> {
    yield* this._children.values();
  }
  /** Every module of the tree, depth first, with its dotted path ("" for this one). */
  *namedModules(prefix = ""): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this._children) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  *namedParameters(prefix = ""): IterableIterator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, p] of m._params) if (p) yield [path ? `${path}.${n}` : n, p];
    }
  }
  parameters(): Tensor[] {
    return Array.from(this.namedParameters(), ([, p]) => p);
  }
  *namedBuffers(prefix = ""): IterableIterator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, b] of m._buffers) if (b) yield [path ? `${path}.${n}` : n, b];
    }
  }
  buffers(): Tensor[] {
    return Array.from(this.namedBuffers(), ([, b]) => b);
  }
  /** Calls fn on every module of the tree (children first, like PyTorch's apply). */
  apply(fn: (m: Module) => void): this {
    for (const c of this._children.values()) c.apply(fn);
    fn(this);
    return this;
  }

  // ---- modes ------------------------------------------------------------------------------

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  // ---- state ------------------------------------------------------------------------------

  /**
   * Parameters and buffers by dotted name, in registration order, as PyTorch's state_dict.
   * The tensors are the module's own (not copies): read them, don't dispose them.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [path, m] of this.namedModules()) {
      const at = (n: string) => (path ? `${path}.${n}` : n);
      for (const [n, p] of m._params) if (p) out.set(at(n), p);
      for (const [n, b] of m._buffers) if (b) out.set(at(n), b);
    }
    return out;
  }

  /**
   * Copies values into this module's parameters and buffers. Everything is checked before
   * anything is written, so a failed load leaves the module as it was. With `strict` (the
   * default) missing and unexpected keys are errors; a shape mismatch always is.
   */
  loadStateDict(
    state: Map<string, Tensor> | Record<string, Tensor>,
    opts: { strict?: boolean } = {},
  ): LoadResult {
    const given = state instanceof Map ? state : new Map(Object.entries(state));
    const { own, missing, unexpected } = this.checkFit(
      "loadStateDict",
      "loaded",
      given,
      opts.strict ?? true,
      "pass { strict: false } to load the keys that match",
    );
    noGrad(() => {
      for (const [k, t] of own) {
        const src = given.get(k);
        if (src) t.copy_(src);
      }
    });
    return { missing, unexpected };
  }

  /**
   * Makes this module use the given tensors as its parameters and buffers, without copying:
   * afterwards both hold the same native tensors (a worker thread's copy of a member network
   * computes with, and accumulates gradients into, the main thread's parameters). Names and
   * shapes must match exactly; the module's own tensors are released.
   */
  shareState(state: Map<string, Tensor>): void {
    const { own } = this.checkFit("shareState", "shared", state, true);
    // Rebinding the handles (rather than swapping Tensor objects) keeps every layer's own
    // fields (`this.weight`, ...) pointing at the shared tensors.
    for (const [k, t] of own) t.shareNative(state.get(k)!);
  }

  /**
   * Compares `given` with this module's state: a shape mismatch is always an error, missing or
   * unexpected keys too when `strict`. Throws a StateDictError listing them (and `keysHint` when
   * keys differ) before anything is written.
   */
  private checkFit(
    op: string,
    verb: string,
    given: Map<string, Tensor>,
    strict: boolean,
    keysHint?: string,
  ) {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !given.has(k));
    const unexpected = [...given.keys()].filter((k) => !own.has(k));
    const misShaped: { key: string; expected: number[]; got: number[] }[] = [];
    for (const [k, t] of own) {
      const src = given.get(k);
      if (!src) continue;
      const a = t.shape;
      const b = src.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i]))
        misShaped.push({ key: k, expected: a, got: b });
    }
    if (misShaped.length || (strict && (missing.length || unexpected.length))) {
      const lines = [
        `${op}: the state does not fit ${this.constructor.name}; nothing was ${verb}.`,
      ];
      const list = (xs: string[]) =>
        xs.slice(0, 20).join(", ") + (xs.length > 20 ? `, ... (${xs.length} in all)` : "");
      if (missing.length) lines.push(`  missing keys (${missing.length}): ${list(missing)}`);
      if (unexpected.length)
        lines.push(`  unexpected keys (${unexpected.length}): ${list(unexpected)}`);
      for (const m of misShaped.slice(0, 20))
        lines.push(`  ${m.key}: expected shape [${m.expected}], got [${m.got}]`);
      if (keysHint && (missing.length || unexpected.length)) lines.push(`  (${keysHint})`);
      throw new StateDictError(lines.join("\n"), missing, unexpected, misShaped);
    }
    return { own, missing, unexpected };
  }

  /**
   * Moves parameters and buffers to a device and/or dtype and/or memory format, in place:
   * the tensors keep their identity (optimisers holding them stay valid). Only floating
   * tensors change dtype; channels-last applies to 4-D tensors.
   */
  to(
    target: { device?: Device; dtype?: DType; memoryFormat?: MemoryFormatName } | Device | DType,
  ): this {
    const o =
      typeof target === "string"
        ? target === "cpu" || target.startsWith("cuda")
          ? { device: target as Device }
          : { dtype: target as DType }
        : target;
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        const dtype = o.dtype && isFloating(t.dtype) ? o.dtype : undefined;
        const fmt = o.memoryFormat && t.ndim === 4 ? o.memoryFormat : undefined;
        if (!dtype && !o.device && !fmt) continue;
        const moved = t.to({ device: o.device, dtype, memoryFormat: fmt });
        t.setData(moved);
        moved.dispose();
        const g = t.grad;
        if (g) {
          t.grad = null;
          g.dispose();
        }
      }
    });
    return this;
  }

  /** Total number of parameter elements (trainable ones only with `trainableOnly`). */
  numParameters(trainableOnly = true): number {
    let n = 0;
    for (const p of this.parameters()) if (!trainableOnly || p.requiresGrad) n += p.numel;
    return n;
  }

  /**
   * A structural copy of this module object: same class (or `proto`), same fields, except that
   * the registered parameters, buffers and children named in `parts` are replaced (a null
   * parameter or buffer unregisters it). Every field of this object that referred to a replaced
   * tensor or child — directly or as an element of an array field (`stages`, `layers`) — refers
   * to its replacement in the copy; `fields` are assigned last. Nothing is copied or freed: the
   * copy shares every tensor and child that was not replaced.
   *
   * Horizontal fusion (src/infer/fuse.ts) rebuilds a network this way, reusing each class's
   * own forward rather than a second implementation of every family.
   */
  withParts(
    parts: {
      params?: Map<string, Tensor | null>;
      buffers?: Map<string, Tensor | null>;
      children?: Map<string, Module>;
    },
    fields: Record<string, unknown> = {},
    proto: object = Object.getPrototypeOf(this) as object,
  ): this {
    const replaced = new Map<unknown, unknown>();
    const swap = <V>(own: Map<string, V>, given: Map<string, V> | undefined, what: string) => {
      const out = new Map(own);
      for (const [name, v] of given ?? []) {
        if (!own.has(name))
          throw new Error(`withParts: ${this.constructor.name} has no ${what} "${name}"`);
        const old = own.get(name);
        if (old !== null && old !== undefined) replaced.set(old, v);
        out.set(name, v);
      }
      return out;
    };
    const params = swap(this._params, parts.params, "parameter");
    const buffers = swap(this._buffers, parts.buffers, "buffer");
    const children = swap(this._children, parts.children, "child");
    const remap = (v: unknown): unknown => (replaced.has(v) ? replaced.get(v) : v);
    const copy = Object.create(proto) as this;
    for (const key of Reflect.ownKeys(this)) {
      const v = (this as Record<string | symbol, unknown>)[key];
      const next = Array.isArray(v) && v.some((x) => replaced.has(x)) ? v.map(remap) : remap(v);
      (copy as Record<string | symbol, unknown>)[key] = next;
    }
    const own = copy as unknown as {
      _params: typeof params;
      _buffers: typeof buffers;
      _children: typeof children;
    };
    own._params = params;
    own._buffers = buffers;
    own._children = children;
    Object.assign(copy, fields);
    return copy;
  }

  /** Frees every parameter and buffer of the tree. The module is unusable afterwards. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }
}
