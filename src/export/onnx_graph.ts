// An ONNX graph under construction: nodes in order, initializers (weights and constants),
// unique value and node names. The operator rules (aten_to_onnx.ts) add to it.
import type { DType } from "../tensor/dtype.js";
import {
  onnxElemType,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from "./onnx_proto.js";

/** A typed attribute value: ONNX distinguishes INT from FLOAT, JavaScript numbers do not. */
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string };

export const int = (v: number | boolean): Attr => ({ int: Number(v) });
export const float = (v: number): Attr => ({ float: v });
export const ints = (v: readonly number[]): Attr => ({ ints: v });
export const str = (v: string): Attr => ({ string: v });

function attribute(name: string, a: Attr): AttributeProto {
  if ("int" in a) return { name, type: 2, i: a.int };
  if ("float" in a) return { name, type: 1, f: a.float };
  if ("ints" in a) return { name, type: 7, ints: [...a.ints] };
  if ("floats" in a) return { name, type: 6, floats: [...a.floats] };
  return { name, type: 3, s: new TextEncoder().encode(a.string) };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  /** A name no value or node has yet, derived from `hint`. */
  unique(hint: string): string {
    let name = hint;
    for (let k = 1; this.used.has(name); k++) name = `${hint}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Reserves a name that must stay as it is (the graph input, parameter names). */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX graph: the name "${name}" is taken twice`);
    this.used.add(name);
    return name;
  }

  /**
   * Adds a node; returns its output names (`outputs` of them, named after `where`/opType).
   * An input "" is an omitted optional input.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    where = "",
    outputs = 1,
  ): string[] {
    const base = where ? `${where}/${opType}` : opType;
    const name = this.unique(base);
    const outs = Array.from({ length: outputs }, (_, k) =>
      this.unique(outputs === 1 ? `${name}:0` : `${name}:${k}`),
    );
    this.nodes.push({
      name,
      opType,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** An initializer with the given bytes (row-major); returns its name. */
  initializer(name: string, dtype: DType, dims: readonly number[], bytes: Uint8Array): string {
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: onnxElemType(dtype),
      rawData: bytes,
    });
    return name;
  }

  /** An int64 constant (shapes, axes, indices). */
  i64(values: readonly (number | bigint)[], hint: string, scalar = false): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.initializer(
      this.unique(hint),
      "i64",
      scalar ? [] : [values.length],
      new Uint8Array(data.buffer),
    );
  }

  /** A scalar constant of a floating or integer dtype (the other operand of x + 1, clip bounds). */
  scalar(value: number, dtype: DType, hint: string): string {
    let bytes: Uint8Array;
    if (dtype === "f32") bytes = new Uint8Array(Float32Array.of(value).buffer);
    else if (dtype === "f64") bytes = new Uint8Array(Float64Array.of(value).buffer);
    else if (dtype === "i64") bytes = new Uint8Array(BigInt64Array.of(BigInt(value)).buffer);
    else if (dtype === "i32") bytes = new Uint8Array(Int32Array.of(value).buffer);
    else if (dtype === "bool") bytes = Uint8Array.of(value ? 1 : 0);
    else throw new Error(`ONNX graph: no scalar constants of ${dtype}`);
    return this.initializer(this.unique(hint), dtype, [], bytes);
  }
}
