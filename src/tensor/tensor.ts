// The Tensor class: a handle to a libtorch tensor with a PyTorch-shaped method surface.
// Every method is one dispatcher call (see ops.ts); numerics, autograd and memory layout are
// libtorch's. Methods that end in `_` work in place and return `this`, as in PyTorch.
import { native, type TensorHandle } from "./native.js";
import { opTable } from "./ops.js";
import { track } from "./scope.js";
import {
  dtypeCode,
  dtypeFromCode,
  isDType,
  typedArrayOf,
  MemoryFormat,
  type AnyTypedArray,
  type DType,
  type MemoryFormatName,
} from "./dtype.js";

export type Device = "cpu" | "cuda" | `cuda:${number}`;
export type Scalar = number | boolean;

const O = opTable({
  add: "add.Tensor",
  addS: "add.Scalar",
  sub: "sub.Tensor",
  subS: "sub.Scalar",
  mul: "mul.Tensor",
  mulS: "mul.Scalar",
  div: "div.Tensor",
  divS: "div.Scalar",
  powS: "pow.Tensor_Scalar",
  powT: "pow.Tensor_Tensor",
  neg: "neg",
  abs: "abs",
  exp: "exp",
  log: "log",
  log1p: "log1p",
  sqrt: "sqrt",
  rsqrt: "rsqrt",
  reciprocal: "reciprocal",
  sin: "sin",
  cos: "cos",
  floor: "floor",
  ceil: "ceil",
  round: "round",
  sign: "sign",
  maximum: "maximum",
  minimum: "minimum",
  clamp: "clamp",
  xlogy: "xlogy.Tensor",
  isnan: "isnan",
  isfinite: "isfinite",
  logicalNot: "logical_not",
  logicalAnd: "logical_and",
  logicalOr: "logical_or",
  eqS: "eq.Scalar",
  eqT: "eq.Tensor",
  neS: "ne.Scalar",
  neT: "ne.Tensor",
  ltS: "lt.Scalar",
  ltT: "lt.Tensor",
  leS: "le.Scalar",
  leT: "le.Tensor",
  gtS: "gt.Scalar",
  gtT: "gt.Tensor",
  geS: "ge.Scalar",
  geT: "ge.Tensor",
  add_: "add_.Tensor",
  addS_: "add_.Scalar",
  sub_: "sub_.Tensor",
  mul_: "mul_.Tensor",
  mulS_: "mul_.Scalar",
  divS_: "div_.Scalar",
  div_: "div_.Tensor",
  zero_: "zero_",
  fill_: "fill_.Scalar",
  copy_: "copy_",
  clamp_: "clamp_",
  normal_: "normal_",
  uniform_: "uniform_",
  bernoulli_: "bernoulli_.float",
  relu_: "relu_",
  sum: "sum",
  sumDim: "sum.dim_IntList",
  mean: "mean",
  meanDim: "mean.dim",
  max: "max",
  maxDim: "max.dim",
  min: "min",
  minDim: "min.dim",
  amax: "amax",
  amin: "amin",
  argmax: "argmax",
  argmin: "argmin",
  topk: "topk",
  varDim: "var.dim",
  stdDim: "std.dim",
  logsumexp: "logsumexp",
  anyDim: "any.dim",
  all: "all",
  any: "any",
  sort: "sort",
  reshape: "reshape",
  view: "view",
  permute: "permute",
  transpose: "transpose.int",
  narrow: "narrow",
  slice: "slice.Tensor",
  select: "select.int",
  chunk: "chunk",
  split: "split.Tensor",
  splitSizes: "split_with_sizes",
  flatten: "flatten.using_ints",
  squeeze: "squeeze",
  squeezeDim: "squeeze.dim",
  unsqueeze: "unsqueeze",
  expand: "expand",
  flip: "flip",
  repeat: "repeat",
  t: "t",
  toDtype: "to.dtype",
  toDevice: "to.device",
  contiguous: "contiguous",
  clone: "clone",
  detach: "detach",
  indexSelect: "index_select",
  gather: "gather",
  scatterSrc: "scatter.src",
  scatterValue: "scatter.value",
  maskedFillS: "masked_fill.Scalar",
  maskedFillT: "masked_fill.Tensor",
  where: "where.self",
  index: "index.Tensor",
  matmul: "matmul",
  softmax: "softmax.int",
  logSoftmax: "log_softmax.int",
  relu: "relu",
  sigmoid: "sigmoid",
  tanh: "tanh",
  setData: "set_data",
});

const FORMATS: Record<MemoryFormatName, number> = MemoryFormat;

function h(x: Tensor): TensorHandle {
  return x.handle;
}

/** Wraps a native result as a Tensor (results of `call` are handles). */
export function wrap(handle: unknown): Tensor {
  return new Tensor(handle as TensorHandle);
}

function call(id: number, ...args: unknown[]): Tensor {
  return new Tensor(native.call(id, ...args) as TensorHandle);
}

function callMany(id: number, ...args: unknown[]): Tensor[] {
  return (native.call(id, ...args) as TensorHandle[]).map((x) => new Tensor(x));
}

// Safety net for tensors nobody disposed: when the Tensor object is collected, its native
// memory is freed. Explicit disposal (scopes, `using`, dispose()) is the normal path and
// unregisters, so the registry only ever holds tensors that are still alive or leaked.
const collected = new FinalizationRegistry<TensorHandle>((handle) => native.dispose(handle));

export class Tensor implements Disposable {
  private _h: TensorHandle | null;
  private _kept = false;
  private _borrowed = false;

  /** Internal: wraps a native handle. Use the creation functions (zeros, fromArray, ...). */
  constructor(handle: TensorHandle) {
    this._h = handle;
    collected.register(this, handle, this);
    track(this);
  }

  /**
   * Internal: a view of a tensor that another thread owns (handles are process-wide; see
   * cotrain/concurrent.ts). It is never freed from here — no scope, finaliser or dispose() of
   * this object touches the native tensor; dispose() only forgets the handle.
   */
  static borrow(handle: TensorHandle): Tensor {
    const t = Object.create(Tensor.prototype) as Tensor;
    t._h = handle;
    t._kept = true;
    t._borrowed = true;
    return t;
  }

  /** The native handle; throws if this tensor was disposed. */
  get handle(): TensorHandle {
    if (this._h === null) {
      throw new Error(
        "this tensor was disposed; keep() it or clone() it before its scope ends if it is still needed",
      );
    }
    return this._h;
  }

  // ---- lifetime -------------------------------------------------------------------------

  /** Frees the native memory now (autograd keeps what backward needs by itself). Idempotent. */
  dispose(): void {
    if (this._h !== null && this._borrowed) {
      this._h = null;
    } else if (this._h !== null) {
      native.dispose(this._h);
      collected.unregister(this);
      this._h = null;
    }
  }

  /**
   * Internal: makes this tensor's handle refer to `source`'s native tensor (same data, gradient
   * and autograd identity; this tensor's own memory is released). Used to let a worker
   * thread's copy of a network compute with the main thread's parameters (Module.shareState).
   */
  shareNative(source: Tensor): void {
    if (this._borrowed) throw new Error("shareNative: a borrowed tensor cannot be rebound");
    native.rebind(this.handle, source.handle);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get disposed(): boolean {
    return this._h === null;
  }

  /** Whether scopes leave this tensor alone (parameters, buffers, optimiser state). */
  get kept(): boolean {
    return this._kept;
  }

  /** Exempts this tensor from every scope; it lives until disposed explicitly. */
  keep(): this {
    this._kept = true;
    return this;
  }

  // ---- facts ------------------------------------------------------------------------------

  get shape(): number[] {
    return native.shape(this.handle);
  }
  get strides(): number[] {
    return native.strides(this.handle);
  }
  get ndim(): number {
    return native.dim(this.handle);
  }
  get numel(): number {
    return native.numel(this.handle);
  }
  get dtype(): DType {
    return dtypeFromCode(native.dtype(this.handle));
  }
  get device(): Device {
    return native.device(this.handle) as Device;
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length)
      throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d];
  }
  isContiguous(format: MemoryFormatName = "contiguous"): boolean {
    return native.isContiguous(this.handle, FORMATS[format]);
  }
  toString(): string {
    return this._h === null ? "Tensor(disposed)" : `Tensor(${native.describe(this._h)})`;
  }

  // ---- data out ---------------------------------------------------------------------------

  /** A copy of the elements as a TypedArray (f16/bf16 as raw Uint16 bits, bool as Uint8). */
  toTypedArray(): AnyTypedArray {
    return typedArrayOf(this.dtype, native.toBytes(this.handle));
  }
  /** The elements as a flat array of numbers (i64 converted to number). */
  toArray(): number[] {
    const a =
      this.dtype === "f16" || this.dtype === "bf16"
        ? this.to("f32").toTypedArray()
        : this.toTypedArray();
    return Array.from(a as ArrayLike<number | bigint>, Number);
  }
  /** The value of a one-element tensor. */
  item(): number {
    return Number(native.item(this.handle));
  }
  /** The tensor's own memory as an ArrayBuffer, without a copy (dense CPU tensors only). */
  bufferView(): ArrayBuffer {
    return native.view(this.handle);
  }

  // ---- autograd ---------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  set requiresGrad(on: boolean) {
    native.setRequiresGrad(this.handle, on);
  }
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  get gradFn(): string | null {
    return native.gradFn(this.handle);
  }
  /** The accumulated gradient (a new handle to it each time; dispose it or read it in a scope). */
  get grad(): Tensor | undefined {
    const g = native.grad(this.handle);
    return g === undefined ? undefined : new Tensor(g);
  }
  set grad(g: Tensor | undefined | null) {
    native.setGrad(this.handle, g ? g.handle : null);
  }
  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }
  /** Backpropagates from this tensor (a scalar, or pass the gradient with respect to it). */
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native.backward(
      [this.handle],
      gradient ? [gradient.handle] : null,
      opts.retainGraph,
      opts.createGraph ?? false,
    );
  }
  detach(): Tensor {
    return call(O.detach, this.handle);
  }

  // ---- conversion -------------------------------------------------------------------------

  /** Converts dtype and/or device; returns this same tensor's data (a new handle) if nothing changes. */
  to(
    target: DType | Device | { dtype?: DType; device?: Device; memoryFormat?: MemoryFormatName },
  ): Tensor {
    const o =
      typeof target === "string"
        ? isDType(target)
          ? { dtype: target }
          : { device: target as Device }
        : target;
    const fmt = o.memoryFormat ? FORMATS[o.memoryFormat] : undefined;
    if (o.device !== undefined) {
      return call(
        O.toDevice,
        this.handle,
        normDevice(o.device),
        dtypeCode(o.dtype ?? this.dtype),
        false,
        false,
        fmt,
      );
    }
    if (o.dtype !== undefined)
      return call(O.toDtype, this.handle, dtypeCode(o.dtype), false, false, fmt);
    return this.contiguous(o.memoryFormat ?? "contiguous");
  }
  float(): Tensor {
    return this.to("f32");
  }
  long(): Tensor {
    return this.to("i64");
  }
  contiguous(format: MemoryFormatName = "contiguous"): Tensor {
    return call(O.contiguous, this.handle, FORMATS[format]);
  }
  clone(format?: MemoryFormatName): Tensor {
    return call(O.clone, this.handle, format ? FORMATS[format] : undefined);
  }

  // ---- elementwise ------------------------------------------------------------------------

  add(other: Tensor | Scalar, alpha: number = 1): Tensor {
    return typeof other === "object"
      ? call(O.add, this.handle, h(other), alpha)
      : call(O.addS, this.handle, other, alpha);
  }
  sub(other: Tensor | Scalar, alpha: number = 1): Tensor {
    return typeof other === "object"
      ? call(O.sub, this.handle, h(other), alpha)
      : call(O.subS, this.handle, other, alpha);
  }
  mul(other: Tensor | Scalar): Tensor {
    return typeof other === "object"
      ? call(O.mul, this.handle, h(other))
      : call(O.mulS, this.handle, other);
  }
  div(other: Tensor | Scalar): Tensor {
    return typeof other === "object"
      ? call(O.div, this.handle, h(other))
      : call(O.divS, this.handle, other);
  }
  pow(e: Tensor | number): Tensor {
    return typeof e === "object" ? call(O.powT, this.handle, h(e)) : call(O.powS, this.handle, e);
  }
  neg(): Tensor {
    return call(O.neg, this.handle);
  }
  abs(): Tensor {
    return call(O.abs, this.handle);
  }
  exp(): Tensor {
    return call(O.exp, this.handle);
  }
  log(): Tensor {
    return call(O.log, this.handle);
  }
  log1p(): Tensor {
    return call(O.log1p, this.handle);
  }
  sqrt(): Tensor {
    return call(O.sqrt, this.handle);
  }
  rsqrt(): Tensor {
    return call(O.rsqrt, this.handle);
  }
  reciprocal(): Tensor {
    return call(O.reciprocal, this.handle);
  }
  sin(): Tensor {
    return call(O.sin, this.handle);
  }
  cos(): Tensor {
    return call(O.cos, this.handle);
  }
  floor(): Tensor {
    return call(O.floor, this.handle);
  }
  ceil(): Tensor {
    return call(O.ceil, this.handle);
  }
  round(): Tensor {
    return call(O.round, this.handle);
  }
  sign(): Tensor {
    return call(O.sign, this.handle);
  }
  relu(): Tensor {
    return call(O.relu, this.handle);
  }
  sigmoid(): Tensor {
    return call(O.sigmoid, this.handle);
  }
  tanh(): Tensor {
    return call(O.tanh, this.handle);
  }
  maximum(o: Tensor): Tensor {
    return call(O.maximum, this.handle, h(o));
  }
  minimum(o: Tensor): Tensor {
    return call(O.minimum, this.handle, h(o));
  }
  clamp(min?: number, max?: number): Tensor {
    return call(O.clamp, this.handle, min, max);
  }
  /** x·log(y) with 0·log(0) = 0 — the safe form of entropy terms (REFERENCE.md §10.4). */
  xlogy(other: Tensor): Tensor {
    return call(O.xlogy, this.handle, h(other));
  }
  isnan(): Tensor {
    return call(O.isnan, this.handle);
  }
  isfinite(): Tensor {
    return call(O.isfinite, this.handle);
  }
  logicalNot(): Tensor {
    return call(O.logicalNot, this.handle);
  }
  logicalAnd(o: Tensor): Tensor {
    return call(O.logicalAnd, this.handle, h(o));
  }
  logicalOr(o: Tensor): Tensor {
    return call(O.logicalOr, this.handle, h(o));
  }
  eq(o: Tensor | Scalar): Tensor {
    return typeof o === "object" ? call(O.eqT, this.handle, h(o)) : call(O.eqS, this.handle, o);
  }
  ne(o: Tensor | Scalar): Tensor {
    return typeof o === "object" ? call(O.neT, this.handle, h(o)) : call(O.neS, this.handle, o);
  }
  lt(o: Tensor | Scalar): Tensor {
    return typeof o === "object" ? call(O.ltT, this.handle, h(o)) : call(O.ltS, this.handle, o);
  }
  le(o: Tensor | Scalar): Tensor {
    return typeof o === "object" ? call(O.leT, this.handle, h(o)) : call(O.leS, this.handle, o);
  }
  gt(o: Tensor | Scalar): Tensor {
    return typeof o === "object" ? call(O.gtT, this.handle, h(o)) : call(O.gtS, this.handle, o);
  }
  ge(o: Tensor | Scalar): Tensor {
    return typeof o === "object" ? call(O.geT, this.handle, h(o)) : call(O.geS, this.handle, o);
  }

  // ---- in place ---------------------------------------------------------------------------

  add_(other: Tensor | Scalar, alpha: number = 1): this {
    if (typeof other === "object") native.callVoid(O.add_, this.handle, h(other), alpha);
    else native.callVoid(O.addS_, this.handle, other, alpha);
    return this;
  }
  sub_(other: Tensor, alpha: number = 1): this {
    native.callVoid(O.sub_, this.handle, h(other), alpha);
    return this;
  }
  mul_(other: Tensor | Scalar): this {
    if (typeof other === "object") native.callVoid(O.mul_, this.handle, h(other));
    else native.callVoid(O.mulS_, this.handle, other);
    return this;
  }
  div_(other: Tensor | Scalar): this {
    if (typeof other === "object") native.callVoid(O.div_, this.handle, h(other));
    else native.callVoid(O.divS_, this.handle, other);
    return this;
  }
  zero_(): this {
    native.callVoid(O.zero_, this.handle);
    return this;
  }
  fill_(v: Scalar): this {
    native.callVoid(O.fill_, this.handle, v);
    return this;
  }
  copy_(src: Tensor): this {
    native.callVoid(O.copy_, this.handle, h(src), false);
    return this;
  }
  clamp_(min?: number, max?: number): this {
    native.callVoid(O.clamp_, this.handle, min, max);
    return this;
  }
  relu_(): this {
    native.callVoid(O.relu_, this.handle);
    return this;
  }
  normal_(mean = 0, std = 1, generator?: { handle: unknown }): this {
    native.callVoid(O.normal_, this.handle, mean, std, generator?.handle);
    return this;
  }
  uniform_(from = 0, to = 1, generator?: { handle: unknown }): this {
    native.callVoid(O.uniform_, this.handle, from, to, generator?.handle);
    return this;
  }
  bernoulli_(p: number, generator?: { handle: unknown }): this {
    native.callVoid(O.bernoulli_, this.handle, p, generator?.handle);
    return this;
  }
  /** Replaces this tensor's data with `data`'s, keeping identity and autograd leaf status (PyTorch's `.data =`). */
  setData(data: Tensor): this {
    native.callVoid(O.setData, this.handle, h(data));
    return this;
  }

  // ---- reductions -------------------------------------------------------------------------

  sum(dim?: number | number[], keepdim = false, dtype?: DType): Tensor {
    if (dim === undefined) return call(O.sum, this.handle, dtype ? dtypeCode(dtype) : undefined);
    return call(O.sumDim, this.handle, dim, keepdim, dtype ? dtypeCode(dtype) : undefined);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    if (dim === undefined) return call(O.mean, this.handle);
    return call(O.meanDim, this.handle, dim, keepdim);
  }
  /** Maximum of all elements. */
  max(): Tensor;
  /** Maximum along a dimension: [values, indices]. */
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return call(O.max, this.handle);
    return callMany(O.maxDim, this.handle, dim, keepdim) as [Tensor, Tensor];
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    if (dim === undefined) return call(O.min, this.handle);
    return callMany(O.minDim, this.handle, dim, keepdim) as [Tensor, Tensor];
  }
  amax(dim: number | number[], keepdim = false): Tensor {
    return call(O.amax, this.handle, dim, keepdim);
  }
  amin(dim: number | number[], keepdim = false): Tensor {
    return call(O.amin, this.handle, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return call(O.argmax, this.handle, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return call(O.argmin, this.handle, dim, keepdim);
  }
  /** The k largest (or smallest) entries along `dim`: [values, indices]. */
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return callMany(O.topk, this.handle, k, dim, largest, sorted) as [Tensor, Tensor];
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    return callMany(O.sort, this.handle, dim, descending) as [Tensor, Tensor];
  }
  /** Variance (unbiased by default, like PyTorch). */
  var(dim?: number | number[], unbiased = true, keepdim = false): Tensor {
    return call(O.varDim, this.handle, dim ?? null, unbiased, keepdim);
  }
  std(dim?: number | number[], unbiased = true, keepdim = false): Tensor {
    return call(O.stdDim, this.handle, dim ?? null, unbiased, keepdim);
  }
  /** log Σ exp along dims, computed stably. */
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return call(O.logsumexp, this.handle, dim, keepdim);
  }
  all(): Tensor {
    return call(O.all, this.handle);
  }
  /** Whether any element is true (over everything, or along one dimension). */
  any(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? call(O.any, this.handle) : call(O.anyDim, this.handle, dim, keepdim);
  }

  // ---- shape ------------------------------------------------------------------------------

  reshape(...shape: number[] | [number[]]): Tensor {
    return call(O.reshape, this.handle, flat(shape));
  }
  view(...shape: number[] | [number[]]): Tensor {
    return call(O.view, this.handle, flat(shape));
  }
  permute(...dims: number[] | [number[]]): Tensor {
    return call(O.permute, this.handle, flat(dims));
  }
  transpose(d0: number, d1: number): Tensor {
    return call(O.transpose, this.handle, d0, d1);
  }
  get T(): Tensor {
    return call(O.t, this.handle);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return call(O.narrow, this.handle, dim, start, length);
  }
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return call(O.slice, this.handle, dim, start, end, step);
  }
  select(dim: number, index: number): Tensor {
    return call(O.select, this.handle, dim, index);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return callMany(O.chunk, this.handle, chunks, dim);
  }
  split(size: number | number[], dim = 0): Tensor[] {
    return typeof size === "number"
      ? callMany(O.split, this.handle, size, dim)
      : callMany(O.splitSizes, this.handle, size, dim);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return call(O.flatten, this.handle, startDim, endDim);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? call(O.squeeze, this.handle) : call(O.squeezeDim, this.handle, dim);
  }
  unsqueeze(dim: number): Tensor {
    return call(O.unsqueeze, this.handle, dim);
  }
  expand(...shape: number[] | [number[]]): Tensor {
    return call(O.expand, this.handle, flat(shape), false);
  }
  flip(dims: number[]): Tensor {
    return call(O.flip, this.handle, dims);
  }
  repeat(...reps: number[] | [number[]]): Tensor {
    return call(O.repeat, this.handle, flat(reps));
  }

  // ---- indexing ---------------------------------------------------------------------------

  indexSelect(dim: number, index: Tensor): Tensor {
    return call(O.indexSelect, this.handle, dim, h(index));
  }
  gather(dim: number, index: Tensor): Tensor {
    return call(O.gather, this.handle, dim, h(index), false);
  }
  scatter(dim: number, index: Tensor, src: Tensor | Scalar): Tensor {
    return typeof src === "object"
      ? call(O.scatterSrc, this.handle, dim, h(index), h(src))
      : call(O.scatterValue, this.handle, dim, h(index), src);
  }
  maskedFill(mask: Tensor, value: Tensor | Scalar): Tensor {
    return typeof value === "object"
      ? call(O.maskedFillT, this.handle, h(mask), h(value))
      : call(O.maskedFillS, this.handle, h(mask), value);
  }
  /** Advanced indexing: one index tensor (or null for "all") per leading dimension. */
  index(indices: (Tensor | null)[]): Tensor {
    return call(
      O.index,
      this.handle,
      indices.map((t) => (t ? t.handle : null)),
    );
  }

  // ---- linear algebra and activations ------------------------------------------------------

  matmul(other: Tensor): Tensor {
    return call(O.matmul, this.handle, h(other));
  }
  softmax(dim: number, dtype?: DType): Tensor {
    return call(O.softmax, this.handle, dim, dtype ? dtypeCode(dtype) : undefined);
  }
  logSoftmax(dim: number, dtype?: DType): Tensor {
    return call(O.logSoftmax, this.handle, dim, dtype ? dtypeCode(dtype) : undefined);
  }
}

/** Elementwise choice: `cond ? a : b`. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return call(O.where, cond.handle, a.handle, b.handle);
}

function flat(a: number[] | [number[]]): number[] {
  return Array.isArray(a[0]) ? (a[0] as number[]) : (a as number[]);
}

export function normDevice(d: Device | string): string {
  if (d === "cpu" || d === "cuda" || /^cuda:\d+$/.test(d)) return d;
  throw new TypeError(`unknown device "${d}"; use "cpu", "cuda" or "cuda:N"`);
}

export { call as callOp, callMany as callOpMany };
