// What an operator rule (aten_to_onnx.ts) sees of the call it converts: its arguments by schema
// name (tensors as ONNX value names, the rest as recorded), the recorded shapes, which axes follow
// the batch, and a way to add nodes named after the module the call ran in.
import type { DType } from "../tensor/dtype.js";
import type { Attr, GraphBuilder } from "./onnx_graph.js";
import { describeCall, ExportError, type TraceCall } from "./trace.js";

export interface OutputInfo {
  shape: number[];
  dtype: DType;
  /** Axes whose size follows the batch (empty for a fixed batch). */
  batchAxes: number[];
}

export interface OpContext {
  readonly g: GraphBuilder;
  readonly opset: number;
  readonly call: TraceCall;
  /** The ONNX value of tensor argument `name`; "" when the argument is None. */
  input(name: string): string;
  /** Whether tensor argument `name` was given (not None). */
  has(name: string): boolean;
  /** The ONNX values of a tensor-list argument. */
  inputs(name: string): string[];
  /** The recorded shape / dtype / batch axes of tensor argument `name` (or of list element `i`). */
  info(name: string, i?: number): OutputInfo;
  /** A non-tensor argument as recorded (refused when its value follows the batch size). */
  arg(name: string): unknown;
  /** An int or int[] argument as `n` ints (a single int repeated, as int[2] arguments allow). */
  ints(name: string, n?: number): number[];
  /** A numeric argument. */
  num(name: string): number;
  /** The recorded result `k`. */
  out(k?: number): OutputInfo;
  /** How many results the call has. */
  readonly outputs: number;
  /** Adds a node named after the call's module; returns its output names. */
  node(
    opType: string,
    inputs: readonly string[],
    attrs?: Record<string, Attr>,
    outputs?: number,
  ): string[];
  /** A scalar constant of `dtype`. */
  scalar(value: number, dtype: DType): string;
  /** An int64 constant vector (or scalar). */
  i64(values: readonly (number | bigint)[], scalar?: boolean): string;
  /** Refuses the call, saying why. */
  fail(reason: string): never;
}

/** The failure of one call: names the operator, the module path and its class. */
export function callError(call: TraceCall, reason: string): ExportError {
  return new ExportError(`${describeCall(call)}: ${reason}`);
}
