// The recorded form of an evaluation forward pass (record.ts writes it, to_onnx.ts reads it):
// SSA values — the graph input, operator results, the model's parameters and buffers, and
// constants — and the ATen calls between them, each with the module path it ran under.
import type { DType } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import type { OpSchema } from "./aten_schema.js";

export type ValueKind = "input" | "op" | "param" | "const";

export interface TraceValue {
  id: number;
  kind: ValueKind;
  shape: number[];
  dtype: DType;
  /** param: its state-dict key ("models.0.layer1.0.conv1.weight"). */
  name?: string;
  /** param: the model's own tensor, read when the graph is written. */
  tensor?: Tensor;
  /** const: its bytes, copied when it was first seen (the tensor itself may be gone since). */
  bytes?: Uint8Array;
}

export type TraceArg =
  | { kind: "tensor"; value: number | null }
  | { kind: "tensors"; values: number[] }
  | { kind: "other"; value: unknown };

export interface TraceCall {
  index: number;
  /** The operator without "aten::", with its overload: "conv2d", "add_.Tensor". */
  spec: string;
  schema: OpSchema;
  /** One per schema argument, defaults filled in. */
  args: TraceArg[];
  /** The values it produced: its results, or the new contents of what it wrote in place. */
  outputs: number[];
  /** The module it ran in: dotted path ("" for the root) and class name. */
  path: string;
  className: string;
}

export interface Trace {
  values: TraceValue[];
  calls: TraceCall[];
  /** The graph input's value. */
  input: number;
  /** The graph outputs by name, in order. */
  outputs: Map<string, number>;
}

/** Where a call ran, for messages: "aten::conv2d at models.0.layer1.0.conv1 (Conv2d)". */
export function describeCall(c: Pick<TraceCall, "spec" | "path" | "className">): string {
  return `aten::${c.spec} at ${c.path || "(network)"} (${c.className})`;
}

/** A model that cannot be exported, or an export that failed, with what to do about it. */
export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExportError";
  }
}
