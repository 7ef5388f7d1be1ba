// Records a model's evaluation forward pass as a Trace: the forward runs on a real batch while
// every ATen call it makes is logged (tensor/observe.ts), its tensors identified by handle —
// the model's parameters and buffers by their state-dict names, everything the forward computed
// from the input as SSA values, and whatever else it reads as constants. Each call carries the
// module path it ran under (every module's forward is wrapped for the duration), so an operator
// that cannot be exported is named with the module that used it.
//
// What cannot become a static graph is refused here, naming the operator and the module:
// random draws, reading a value computed from the input into JavaScript (data-dependent control
// flow), writing the model's own parameters, and reading a tensor that an in-place operation
// changed through another view of the same memory.
import type { Module } from "../nn/module.js";
import { native, type TensorHandle } from "../tensor/native.js";
import { observeNative, type NativeObserver } from "../tensor/observe.js";
import { dtypeFromCode } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { schemaOf, type OpSchema } from "./aten_schema.js";
import {
  describeCall,
  ExportError,
  type Trace,
  type TraceArg,
  type TraceCall,
  type TraceValue,
} from "./trace.js";

/** Operators that draw random numbers, always or in training mode (dropouts with train=true). */
const RANDOM =
  /^(rand|randn|randint|randperm|rand_like|randn_like|randint_like|bernoulli|bernoulli_|normal_|uniform_|exponential_|geometric_|cauchy_|log_normal_|random_|multinomial|poisson)(\.|$)/;
const DROPOUTS = /^(dropout|feature_dropout|alpha_dropout|feature_alpha_dropout)(\.|$)/;

interface Frame {
  path: string;
  className: string;
}

class Recorder implements NativeObserver {
  readonly values: TraceValue[] = [];
  readonly calls: TraceCall[] = [];
  /** Live handles of values this recording made (inputs, results, constants) → value id. */
  private readonly live = new Map<TensorHandle, number>();
  /** Values computed from the graph input (the rest can be folded to constants). */
  private readonly fromInput = new Set<number>();
  /** Handles whose memory an in-place operation changed through another view. */
  private readonly stale = new Map<TensorHandle, string>();
  private readonly paramValues = new Map<TensorHandle, number>();
  readonly stack: Frame[] = [];

  constructor(private readonly params: Map<TensorHandle, { name: string; tensor: Tensor }>) {}

  where(): Frame {
    return this.stack[this.stack.length - 1] ?? { path: "", className: "network" };
  }

  addInput(x: Tensor): number {
    const id = this.newValue("op", x.handle);
    this.values[id].kind = "input";
    this.fromInput.add(id);
    this.live.set(x.handle, id);
    return id;
  }

  private newValue(kind: TraceValue["kind"], h: TensorHandle): number {
    const id = this.values.length;
    this.values.push({
      id,
      kind,
      shape: native.shape(h),
      dtype: dtypeFromCode(native.dtype(h)),
    });
    return id;
  }

  private constant(h: TensorHandle): number {
    const id = this.newValue("const", h);
    const bytes = new Uint8Array(native.toBytes(h));
    this.values[id].bytes = bytes;
    this.live.set(h, id);
    return id;
  }

  /** The value a handle passed to an operator holds now. */
  valueOf(h: TensorHandle, spec: string): number {
    const stale = this.stale.get(h);
    if (stale !== undefined)
      throw new ExportError(
        `${describeCall({ spec, ...this.where() })} reads a tensor that ${stale} changed in place through another view of the same memory; an exported graph has no shared memory — compute a new tensor instead of writing into a view`,
      );
    const id = this.live.get(h);
    if (id !== undefined) return id;
    const p = this.params.get(h);
    if (p) {
      let pid = this.paramValues.get(h);
      if (pid === undefined) {
        pid = this.newValue("param", h);
        this.values[pid].name = p.name;
        this.values[pid].tensor = p.tensor;
        this.paramValues.set(h, pid);
      }
      return pid;
    }
    return this.constant(h);
  }

  /** The value a graph output tensor holds. */
  resultOf(t: Tensor): number {
    return this.valueOf(t.handle, "(graph output)");
  }

  private readArgs(schema: OpSchema, args: readonly unknown[]): TraceArg[] {
    return schema.args.map((a, i): TraceArg => {
      const v = i < args.length ? args[i] : undefined;
      if (a.tensor)
        return {
          kind: "tensor",
          value:
            v === undefined || v === null ? null : this.valueOf(v as TensorHandle, schema.spec),
        };
      if (a.tensorList)
        return {
          kind: "tensors",
          values: (v as TensorHandle[]).map((h) => this.valueOf(h, schema.spec)),
        };
      return { kind: "other", value: v === undefined ? a.default : v };
    });
  }

  private checkRandom(schema: OpSchema, args: TraceArg[]): void {
    const train = args.find((a, i) => schema.args[i].name === "train");
    const randomDropout =
      DROPOUTS.test(schema.spec) && train?.kind === "other" && train.value === true;
    if (RANDOM.test(schema.spec) || randomDropout)
      throw new ExportError(
        `${describeCall({ spec: schema.spec, ...this.where() })} draws random numbers in the evaluation forward; an exported graph must be deterministic (is a regulariser still active in eval mode?)`,
      );
  }

  call(id: number, args: readonly unknown[], result: unknown): void {
    const handles = Array.isArray(result) ? (result as TensorHandle[]) : [result as TensorHandle];
    this.record(id, args, handles);
  }

  callVoid(id: number, args: readonly unknown[]): void {
    this.record(id, args, []);
  }

  private record(id: number, rawArgs: readonly unknown[], results: TensorHandle[]): void {
    const schema = schemaOf(id);
    const args = this.readArgs(schema, rawArgs);
    this.checkRandom(schema, args);
    // What the call wrote in place gets a new value; so does what it returned.
    const written: TensorHandle[] = [];
    schema.args.forEach((a, i) => {
      if (a.mutated && a.tensor && rawArgs[i] !== undefined && rawArgs[i] !== null)
        written.push(rawArgs[i] as TensorHandle);
    });
    const dependent = args.some(
      (a) =>
        (a.kind === "tensor" && a.value !== null && this.fromInput.has(a.value)) ||
        (a.kind === "tensors" && a.values.some((v) => this.fromInput.has(v))),
    );
    for (const h of written) {
      if (this.params.has(h))
        throw new ExportError(
          `${describeCall({ spec: schema.spec, ...this.where() })} writes the model's ${this.params.get(h)!.name} during the forward; an evaluation forward must leave the model unchanged`,
        );
    }
    if (!schema.returnsTensors) {
      if (dependent)
        throw new ExportError(
          `${describeCall({ spec: schema.spec, ...this.where() })} returns a value computed from the input to JavaScript; a static graph cannot branch on the data`,
        );
      return;
    }
    if (!dependent) {
      // Computed from parameters and constants alone: its result is a constant of the graph.
      for (const h of [...written, ...results]) this.constant(h);
      return;
    }
    for (const h of written) this.markAliasesStale(h, schema.spec);
    const outputs: number[] = [];
    const produced = written.length ? written : results;
    for (const h of produced) {
      const v = this.newValue("op", h);
      this.fromInput.add(v);
      this.live.set(h, v);
      outputs.push(v);
    }
    // An in-place operator that also returns a handle: that handle holds the new value too.
    if (written.length) for (const h of results) this.live.set(h, outputs[0]);
    this.calls.push({
      index: this.calls.length,
      spec: schema.spec,
      schema,
      args,
      outputs,
      ...this.where(),
    });
  }

  /** Other live tensors sharing `h`'s memory no longer hold the values recorded for them. */
  private markAliasesStale(h: TensorHandle, spec: string): void {
    for (const other of this.live.keys()) {
      if (other !== h && native.sameStorage(other, h))
        this.stale.set(other, `${describeCall({ spec, ...this.where() })}`);
    }
  }

  created(h: TensorHandle): void {
    this.constant(h);
  }

  disposing(h: TensorHandle): void {
    this.live.delete(h);
    this.stale.delete(h);
  }

  reading(h: TensorHandle): void {
    const id = this.live.get(h);
    if (id !== undefined && this.fromInput.has(id))
      throw new ExportError(
        `the forward reads the values of a tensor computed from the input into JavaScript at ${this.where().path || "(network)"} (${this.where().className}); a static graph cannot branch on the data`,
      );
  }
}

/**
 * Wraps the forward of every module under `root` so the recorder knows where each call runs;
 * returns the function that restores them.
 */
function trackModules(root: Module, rec: Recorder): () => void {
  const patched: Module[] = [];
  for (const [path, m] of root.namedModules()) {
    if (Object.hasOwn(m, "forward")) continue;
    const forward = m.forward;
    // An own property shadows the class's forward for the recording only; deleted after.
    Object.defineProperty(m, "forward", {
      configurable: true,
      writable: true,
      value: (...args: Tensor[]) => {
        rec.stack.push({ path, className: m.constructor.name });
        try {
          return forward.apply(m, args);
        } finally {
          rec.stack.pop();
        }
      },
    });
    patched.push(m);
  }
  return () => {
    for (const m of patched) delete (m as { forward?: unknown }).forward;
  };
}

/**
 * Runs `forward(x)` on `root`'s module tree (in whatever mode it is; the exporter puts it in
 * eval mode) and records it. `forward` returns the graph outputs by name; they are freed after.
 */
export function recordForward(
  root: Module,
  x: Tensor,
  forward: (x: Tensor) => Map<string, Tensor>,
): Trace {
  const params = new Map<TensorHandle, { name: string; tensor: Tensor }>();
  for (const [name, t] of root.stateDict()) params.set(t.handle, { name, tensor: t });
  const rec = new Recorder(params);
  const input = rec.addInput(x);
  const restore = trackModules(root, rec);
  let outs: Map<string, Tensor> | undefined;
  try {
    return observeNative(rec, () => {
      outs = forward(x);
      const outputs = new Map<string, number>();
      for (const [name, t] of outs) outputs.set(name, rec.resultOf(t));
      return { values: rec.values, calls: rec.calls, input, outputs };
    });
  } finally {
    restore();
    for (const t of outs?.values() ?? []) if (t !== x) t.dispose();
  }
}
