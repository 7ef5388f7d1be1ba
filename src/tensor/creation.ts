// Creating tensors: constants, ranges, random draws, and from JavaScript data.
import { native } from "./native.js";
import { opTable } from "./ops.js";
import { Tensor, normDevice, type Device } from "./tensor.js";
import { Generator } from "./random.js";
import {
  dtypeCode,
  dtypeOfArray,
  ITEM_SIZE,
  MemoryFormat,
  type DType,
  type MemoryFormatName,
} from "./dtype.js";

const O = opTable({
  empty: "empty.memory_format",
  zeros: "zeros",
  ones: "ones",
  full: "full",
  arange: "arange.start_step",
  rand: "rand.generator",
  randn: "randn.generator",
  randint: "randint.low_generator",
  bernoulli: "bernoulli.p",
  eye: "eye",
  linspace: "linspace",
  cat: "cat",
  stack: "stack",
  toDevice: "to.device",
  zerosLike: "zeros_like",
  onesLike: "ones_like",
  fullLike: "full_like",
  emptyLike: "empty_like",
});

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

function finish(t: Tensor, o: TensorOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

function opts(o: TensorOptions, fallback: DType = "f32"): [number, undefined, string] {
  return [dtypeCode(o.dtype ?? fallback), undefined, normDevice(o.device ?? "cpu")];
}

function checkShape(shape: readonly number[], what: string): number[] {
  for (const [i, d] of shape.entries()) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`${what}: shape[${i}] = ${d} is not a non-negative integer`);
  }
  return shape as number[];
}

export function empty(
  shape: readonly number[],
  o: TensorOptions & { memoryFormat?: MemoryFormatName } = {},
): Tensor {
  const fmt = MemoryFormat[o.memoryFormat ?? "contiguous"];
  return finish(
    new Tensor(native.call(O.empty, checkShape(shape, "empty"), ...opts(o), false, fmt) as never),
    o,
  );
}
export function zeros(shape: readonly number[], o: TensorOptions = {}): Tensor {
  return finish(
    new Tensor(native.call(O.zeros, checkShape(shape, "zeros"), ...opts(o), false) as never),
    o,
  );
}
export function ones(shape: readonly number[], o: TensorOptions = {}): Tensor {
  return finish(
    new Tensor(native.call(O.ones, checkShape(shape, "ones"), ...opts(o), false) as never),
    o,
  );
}
export function full(
  shape: readonly number[],
  value: number | boolean,
  o: TensorOptions = {},
): Tensor {
  return finish(
    new Tensor(native.call(O.full, checkShape(shape, "full"), value, ...opts(o), false) as never),
    o,
  );
}
export function zerosLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.zerosLike, t.handle) as never);
}
export function onesLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.onesLike, t.handle) as never);
}
export function fullLike(t: Tensor, value: number): Tensor {
  return new Tensor(native.call(O.fullLike, t.handle, value) as never);
}
export function emptyLike(t: Tensor): Tensor {
  return new Tensor(native.call(O.emptyLike, t.handle) as never);
}
/** [start, end) in steps of `step`; integral arguments give i64 like PyTorch unless a dtype is given. */
export function arange(start: number, end?: number, step = 1, o: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const dtype = o.dtype ?? (integral ? "i64" : "f32");
  return finish(
    new Tensor(native.call(O.arange, start, end, step, ...opts({ ...o, dtype }), false) as never),
    o,
  );
}
export function linspace(start: number, end: number, steps: number, o: TensorOptions = {}): Tensor {
  return finish(
    new Tensor(native.call(O.linspace, start, end, steps, ...opts(o), false) as never),
    o,
  );
}
export function eye(n: number, o: TensorOptions = {}): Tensor {
  return finish(new Tensor(native.call(O.eye, n, ...opts(o), false) as never), o);
}
/** Uniform on [0, 1). */
export function rand(shape: readonly number[], o: RandomOptions = {}): Tensor {
  return finish(
    new Tensor(
      native.call(
        O.rand,
        checkShape(shape, "rand"),
        o.generator?.handle,
        ...opts(o),
        false,
      ) as never,
    ),
    o,
  );
}
/** Standard normal. */
export function randn(shape: readonly number[], o: RandomOptions = {}): Tensor {
  return finish(
    new Tensor(
      native.call(
        O.randn,
        checkShape(shape, "randn"),
        o.generator?.handle,
        ...opts(o),
        false,
      ) as never,
    ),
    o,
  );
}
/** Integers uniform on [low, high). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  o: RandomOptions = {},
): Tensor {
  return new Tensor(
    native.call(
      O.randint,
      low,
      high,
      checkShape(shape, "randint"),
      o.generator?.handle,
      ...opts(o, "i64"),
      false,
    ) as never,
  );
}
/** 0/1 draws with probability p, shaped like `like`. */
export function bernoulli(like: Tensor, p: number, generator?: Generator): Tensor {
  return new Tensor(native.call(O.bernoulli, like.handle, p, generator?.handle) as never);
}

/**
 * A tensor from JavaScript data: a TypedArray (copied; its type gives the dtype unless one is
 * given), a flat number array with a shape, or nested number arrays.
 */
export function tensor(
  data: ArrayBufferView | number[] | number[][] | number[][][] | number[][][][] | number,
  o: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  let shape: number[];
  let bytes: ArrayBufferView;
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    dtype = o.dtype ?? dtypeOfArray(data);
    const n = data.byteLength / ITEM_SIZE[dtype];
    shape = checkShape(o.shape ?? [n], "tensor");
    bytes = data;
    if (
      o.dtype &&
      o.dtype !== dtypeOfArray(data) &&
      !(o.dtype === "bool" && data instanceof Uint8Array)
    ) {
      // A Float32Array requested as f64 (say) is converted through JavaScript numbers.
      bytes = encode(Array.from(data as unknown as ArrayLike<number>, Number), o.dtype);
    }
  } else {
    const nested = typeof data === "number" ? [] : inferShape(data);
    shape = checkShape(o.shape ?? nested, "tensor");
    const values =
      typeof data === "number" ? [data] : ((data as unknown[]).flat(Infinity as 1) as number[]);
    dtype = o.dtype ?? "f32";
    bytes = encode(values, dtype);
  }
  let t = new Tensor(native.fromBytes(bytes, shape, dtypeCode(dtype)));
  if (o.device && o.device !== "cpu") {
    const moved = new Tensor(
      native.call(
        O.toDevice,
        t.handle,
        normDevice(o.device),
        dtypeCode(dtype),
        false,
        false,
        undefined,
      ) as never,
    );
    t.dispose();
    t = moved;
  }
  return finish(t, o);
}

function inferShape(a: unknown): number[] {
  const shape: number[] = [];
  let cur: unknown = a;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function encode(values: number[], dtype: DType): ArrayBufferView {
  switch (dtype) {
    case "f32":
      return Float32Array.from(values);
    case "f64":
      return Float64Array.from(values);
    case "i64":
      return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
    case "i32":
      return Int32Array.from(values);
    case "i16":
      return Int16Array.from(values);
    case "i8":
      return Int8Array.from(values);
    case "u8":
      return Uint8Array.from(values);
    case "bool":
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case "f16":
    case "bf16": {
      // Go through f32 in libtorch so rounding is libtorch's.
      throw new TypeError(`tensor(): build ${dtype} tensors with tensor(data).to("${dtype}")`);
    }
  }
}

/** Concatenates along an existing dimension. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.call(
      O.cat,
      tensors.map((t) => t.handle),
      dim,
    ) as never,
  );
}
/** Stacks along a new dimension. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.call(
      O.stack,
      tensors.map((t) => t.handle),
      dim,
    ) as never,
  );
}
