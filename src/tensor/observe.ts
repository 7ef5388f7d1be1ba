// Observation of the native calls a function makes: every operator call, tensor creation from
// bytes, disposal and read of values into JavaScript, reported to an observer while the function
// runs. The ONNX exporter (src/export) records a model's evaluation forward pass through it —
// whatever the forward's code does between its modules (residual joins, gating, reshapes) is
// seen as the operators it calls, without a second description of each family.
import { native, type TensorHandle } from "./native.js";

export interface NativeObserver {
  /** An operator returned `result` (a handle, or an array of handles) for `args` as passed. */
  call(id: number, args: readonly unknown[], result: unknown): void;
  /** An operator that returns nothing to JavaScript (the in-place ones) ran with `args`. */
  callVoid(id: number, args: readonly unknown[]): void;
  /** A tensor was made from bytes (`tensor`, `fromArray`, ...). */
  created(handle: TensorHandle): void;
  /** A tensor is about to be freed. */
  disposing(handle: TensorHandle): void;
  /** A tensor's values are about to be read into JavaScript (`item`, `toBytes`, `view`). */
  reading(handle: TensorHandle, how: "item" | "toBytes" | "view"): void;
}

let observing = false;
// Calls the observer itself makes (reading a constant's bytes) go straight through.
let inObserver = false;

function report(fn: () => void): void {
  if (inObserver) return;
  inObserver = true;
  try {
    fn();
  } finally {
    inObserver = false;
  }
}

/**
 * Runs `fn` (synchronous) with every native call reported to `observer`, and returns its result.
 * One observation at a time, on this thread.
 */
export function observeNative<T>(observer: NativeObserver, fn: () => T): T {
  if (observing) throw new Error("observeNative: an observation is already running");
  const saved = {
    call: native.call,
    callVoid: native.callVoid,
    fromBytes: native.fromBytes,
    dispose: native.dispose,
    item: native.item,
    toBytes: native.toBytes,
    view: native.view,
  };
  observing = true;
  native.call = (id, ...args) => {
    const result = saved.call(id, ...args);
    report(() => observer.call(id, args, result));
    return result;
  };
  native.callVoid = (id, ...args) => {
    saved.callVoid(id, ...args);
    report(() => observer.callVoid(id, args));
  };
  native.fromBytes = (bytes, shape, dtype) => {
    const h = saved.fromBytes(bytes, shape, dtype);
    report(() => observer.created(h));
    return h;
  };
  native.dispose = (h) => {
    report(() => observer.disposing(h));
    saved.dispose(h);
  };
  native.item = (h) => {
    report(() => observer.reading(h, "item"));
    return saved.item(h);
  };
  native.toBytes = (h) => {
    report(() => observer.reading(h, "toBytes"));
    return saved.toBytes(h);
  };
  native.view = (h) => {
    report(() => observer.reading(h, "view"));
    return saved.view(h);
  };
  try {
    const out = fn();
    if (out instanceof Promise)
      throw new Error("observeNative: the observed function must be synchronous");
    return out;
  } finally {
    Object.assign(native, saved);
    observing = false;
  }
}
