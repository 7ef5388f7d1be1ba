// Writes a recorded forward pass (trace.ts) as an ONNX model: the model's parameters and buffers
// become initializers under their state-dict names (only those the forward reads), every ATen
// call becomes the nodes of its rule (aten_to_onnx.ts), named after the module it ran in, the
// batch axis of the input and outputs is the symbolic "N" (dynamic_batch.ts) or a fixed size,
// and conv → BN pairs are folded (fold_bn.ts) unless asked not to.
import type { BatchDependence } from "./dynamic_batch.js";
import { mappedOperators, RULES } from "./aten_to_onnx.js";
import { planBatchNormFolding, type FoldPlan } from "./fold_bn.js";
import { GraphBuilder } from "./onnx_graph.js";
import { callError, type OpContext, type OutputInfo } from "./op_context.js";
import { onnxElemType, type ModelProto, type ValueInfoProto } from "./onnx_proto.js";
import { ExportError, type Trace, type TraceCall, type TraceValue } from "./trace.js";

/** The opsets divco writes: 13 (where Split, Squeeze and ReduceSum took their current form) to 21. */
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

export interface GraphOptions {
  opset: number;
  /** Fold evaluation-mode BN into the preceding convolution (default true). */
  foldBatchNorm?: boolean;
  /** The input's name (default "input"). */
  inputName?: string;
  graphName: string;
  docString?: string;
  /** Model metadata (metadata_props). */
  metadata?: Record<string, string>;
  producerVersion: string;
}

/** The IR version that goes with an opset (onnx/helper.py's table): as low as the opset allows. */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

class Writer {
  readonly g = new GraphBuilder();
  /** Value id → its ONNX name (values added to the graph so far). */
  private readonly names = new Map<number, string>();
  private readonly fold: FoldPlan;

  constructor(
    private readonly trace: Trace,
    private readonly dep: BatchDependence,
    private readonly o: GraphOptions,
  ) {
    this.fold =
      o.foldBatchNorm === false
        ? { convs: new Map(), removed: new Map() }
        : planBatchNormFolding(trace);
  }

  get folded(): number {
    return this.fold.removed.size;
  }

  batchAxes(id: number): number[] {
    return this.dep.axes.get(id) ?? [];
  }

  /** The ONNX name of a value, adding its initializer the first time a parameter or constant is read. */
  nameOf(id: number, call: TraceCall): string {
    const known = this.names.get(id);
    if (known !== undefined) return known;
    const v = this.trace.values[id];
    if (v.kind === "param") return this.store(id, this.g.reserve(v.name!), v);
    if (v.kind === "const") {
      if (this.batchAxes(id).length)
        throw callError(
          call,
          `it reads a tensor of shape [${v.shape}] made during the forward whose size follows the batch size; export for one batch size with --batch N`,
        );
      return this.store(id, this.g.unique(`const_${id}`), v);
    }
    throw new Error(`ONNX export: value ${id} is read before it is computed`);
  }

  private store(id: number, name: string, v: TraceValue): string {
    const bytes = v.tensor ? new Uint8Array(v.tensor.toTypedArray().buffer) : v.bytes!;
    this.g.initializer(name, v.dtype, v.shape, bytes);
    this.names.set(id, name);
    return name;
  }

  info(id: number): OutputInfo {
    const v = this.trace.values[id];
    return { shape: v.shape, dtype: v.dtype, batchAxes: this.batchAxes(id) };
  }

  context(call: TraceCall, overrides: Map<string, string>): OpContext {
    const index = (name: string) => {
      const i = call.schema.args.findIndex((a) => a.name === name);
      if (i < 0) throw new Error(`rule for aten::${call.spec}: no argument "${name}"`);
      return i;
    };
    const tensorArg = (name: string) => {
      const a = call.args[index(name)];
      if (a.kind !== "tensor")
        throw new Error(`rule for aten::${call.spec}: "${name}" is not a tensor`);
      return a.value;
    };
    const batchArgs = this.dep.args.get(call.index) ?? [];
    const where = call.path;
    const ctx: OpContext = {
      g: this.g,
      opset: this.o.opset,
      call,
      outputs: call.outputs.length,
      input: (name) => {
        const o = overrides.get(name);
        if (o !== undefined) return o;
        const v = tensorArg(name);
        return v === null ? "" : this.nameOf(v, call);
      },
      has: (name) => overrides.has(name) || tensorArg(name) !== null,
      inputs: (name) => {
        const a = call.args[index(name)];
        if (a.kind !== "tensors")
          throw new Error(`rule for aten::${call.spec}: "${name}" is not a tensor list`);
        return a.values.map((v) => this.nameOf(v, call));
      },
      info: (name, i) => {
        const a = call.args[index(name)];
        const id = a.kind === "tensor" ? a.value : a.kind === "tensors" ? a.values[i ?? 0] : null;
        if (id === null || id === undefined)
          throw new Error(`rule for aten::${call.spec}: "${name}" has no tensor`);
        return this.info(id);
      },
      arg: (name) => {
        if (batchArgs.includes(name))
          ctx.fail(
            `its argument ${name} follows the batch size; export for one batch size with --batch N`,
          );
        const a = call.args[index(name)];
        return a.kind === "other" ? a.value : undefined;
      },
      ints: (name, n) => {
        const v = ctx.arg(name);
        const list =
          typeof v === "number" ? new Array<number>(n ?? 1).fill(v) : ((v as number[]) ?? []);
        if (n !== undefined && list.length === 1) return new Array<number>(n).fill(list[0]);
        return list.map(Number);
      },
      num: (name) => Number(ctx.arg(name)),
      out: (k = 0) => this.info(call.outputs[k]),
      node: (opType, inputs, attrs, outputs) => this.g.node(opType, inputs, attrs, where, outputs),
      scalar: (value, dtype) => this.g.scalar(value, dtype, `${where || "graph"}/scalar`),
      i64: (values, scalar) => this.g.i64(values, `${where || "graph"}/ints`, scalar),
      fail: (reason) => {
        throw callError(call, reason);
      },
    };
    return ctx;
  }

  convert(call: TraceCall): void {
    const replacement = this.fold.removed.get(call.index);
    if (replacement !== undefined) {
      this.names.set(call.outputs[0], this.names.get(replacement)!);
      return;
    }
    const rule = RULES[call.spec];
    if (!rule)
      throw callError(
        call,
        `divco export has no ONNX mapping for this operator. Operators it maps: ${mappedOperators().join(", ")}`,
      );
    const overrides = new Map<string, string>();
    const folded = this.fold.convs.get(call.index);
    if (folded) {
      const w = folded.original;
      const base = w.name ?? `const_${w.id}`;
      const bnPath = folded.bn.path || "bn";
      overrides.set(
        "weight",
        this.g.initializer(
          this.g.unique(`${base}+${bnPath}`),
          "f32",
          w.shape,
          new Uint8Array(folded.weight.buffer),
        ),
      );
      overrides.set(
        "bias",
        this.g.initializer(
          this.g.unique(`${base.replace(/weight$/, "bias")}+${bnPath}`),
          "f32",
          [folded.bias.length],
          new Uint8Array(folded.bias.buffer),
        ),
      );
    }
    const outs = rule(this.context(call, overrides));
    if (outs.length !== call.outputs.length)
      throw new Error(
        `rule for aten::${call.spec} gave ${outs.length} results for ${call.outputs.length}`,
      );
    call.outputs.forEach((id, k) => this.names.set(id, outs[k]));
  }

  valueInfo(name: string, id: number): ValueInfoProto {
    const v = this.trace.values[id];
    const axes = this.batchAxes(id);
    return {
      name,
      type: {
        tensorType: {
          elemType: onnxElemType(v.dtype),
          shape: {
            dim: v.shape.map((n, k) => (axes.includes(k) ? { dimParam: "N" } : { dimValue: n })),
          },
        },
      },
    };
  }

  write(): ModelProto {
    const inputName = this.g.reserve(this.o.inputName ?? "input");
    this.names.set(this.trace.input, inputName);
    const outputNames = [...this.trace.outputs.keys()].map((n) => this.g.reserve(n));
    for (const call of this.trace.calls) this.convert(call);
    const outputs: ValueInfoProto[] = [];
    [...this.trace.outputs.values()].forEach((id, k) => {
      const source =
        this.names.get(id) ?? this.nameOf(id, this.trace.calls[this.trace.calls.length - 1]);
      this.g.nodes.push({
        name: this.g.unique(`${outputNames[k]}/Identity`),
        opType: "Identity",
        input: [source],
        output: [outputNames[k]],
        attribute: [],
      });
      outputs.push(this.valueInfo(outputNames[k], id));
    });
    return {
      irVersion: irVersionFor(this.o.opset),
      opsetImport: [{ domain: "", version: this.o.opset }],
      producerName: "divco",
      producerVersion: this.o.producerVersion,
      docString: this.o.docString,
      graph: {
        name: this.o.graphName,
        node: this.g.nodes,
        initializer: this.g.initializers,
        input: [this.valueInfo(inputName, this.trace.input)],
        output: outputs,
      },
      metadataProps: Object.entries(this.o.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }
}

/** The ONNX model of a recorded forward pass, and how many batch norms were folded into it. */
export function traceToModel(
  trace: Trace,
  dep: BatchDependence,
  o: GraphOptions,
): { model: ModelProto; foldedBatchNorms: number } {
  if (!Number.isInteger(o.opset) || o.opset < MIN_OPSET || o.opset > MAX_OPSET)
    throw new ExportError(`opset ${o.opset} is not supported; use ${MIN_OPSET} to ${MAX_OPSET}`);
  const w = new Writer(trace, dep, o);
  return { model: w.write(), foldedBatchNorms: w.folded };
}

/** Bytes of the initializers a model holds (to decide on external data). */
export function initializerBytes(model: ModelProto): number {
  return model.graph.initializer.reduce((n, t) => n + (t.rawData?.byteLength ?? 0), 0);
}
