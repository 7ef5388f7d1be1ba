// The dynamic batch axis, found by recording the forward at two batch sizes and comparing: a
// value's axes whose sizes differ follow the batch, and so does any operator argument that
// differs (a reshape to [N, ...]). The graph writer turns the first into the symbolic "N" and
// shape arguments that depend on it into -1; an argument it cannot express that way is refused.
// Comparing two recordings needs no rule per operator for how the batch axis moves.
import { describeCall, ExportError, type Trace } from "./trace.js";

export interface BatchDependence {
  /** Value id → the axes whose size follows the batch (absent: none). */
  axes: Map<number, number[]>;
  /** Call index → the non-tensor arguments whose value follows the batch. */
  args: Map<number, string[]>;
}

/** No dependence: a graph for one fixed batch size. */
export const FIXED_BATCH: BatchDependence = { axes: new Map(), args: new Map() };

function differ(a: Trace, b: Trace, what: string): ExportError {
  return new ExportError(
    `the forward pass differs between batch sizes (${what}), so its graph cannot have a dynamic batch axis; export for one batch size with --batch N`,
  );
}

/** Compares the recordings of the same forward at two different batch sizes. */
export function batchDependence(a: Trace, b: Trace): BatchDependence {
  if (a.calls.length !== b.calls.length)
    throw differ(a, b, `${a.calls.length} vs ${b.calls.length} operator calls`);
  const out: BatchDependence = { axes: new Map(), args: new Map() };
  a.calls.forEach((c, i) => {
    const d = b.calls[i];
    if (c.spec !== d.spec)
      throw differ(
        a,
        b,
        `call ${i} is ${describeCall(c)} at one size, ${describeCall(d)} at the other`,
      );
    const names: string[] = [];
    c.args.forEach((arg, k) => {
      const other = d.args[k];
      if (
        arg.kind === "other" &&
        other.kind === "other" &&
        JSON.stringify(arg.value) !== JSON.stringify(other.value)
      )
        names.push(c.schema.args[k].name);
    });
    if (names.length) out.args.set(i, names);
  });
  if (a.values.length !== b.values.length)
    throw differ(a, b, `${a.values.length} vs ${b.values.length} tensors`);
  a.values.forEach((v, i) => {
    const w = b.values[i];
    if (v.kind !== w.kind || v.shape.length !== w.shape.length)
      throw differ(a, b, `tensor ${i} is [${v.shape}] at one size, [${w.shape}] at the other`);
    const axes = v.shape.flatMap((n, k) => (n !== w.shape[k] ? [k] : []));
    if (axes.length) out.axes.set(i, axes);
  });
  const inputAxes = out.axes.get(a.input);
  if (!inputAxes || inputAxes.join() !== "0")
    throw new Error("batchDependence: the two recordings must differ in the input's batch size");
  return out;
}
