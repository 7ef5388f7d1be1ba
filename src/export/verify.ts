// Verification of an export: the written files run in ONNX Runtime (onnxruntime-node, CPU) on a
// seeded batch, and every output is compared with divco's own sequential forward of the same
// members (members' logits, and the ensemble's scores by the same rule). The criterion is
// relative to the output's scale, so tiny and large logits are judged alike:
//   max |onnx − divco| ≤ tolerance · max |divco|      (default tolerance 1e-4)
// i.e. |a − b| ≤ tol · max(|b|, scale) for every element, with scale the output's max |value|.
import type { Members } from "../models/members.js";
import { ensemble } from "../models/ensemble.js";
import { tensor } from "../tensor/creation.js";
import { inferenceMode } from "../tensor/autograd.js";
import { scope } from "../tensor/scope.js";
import { getNumThreads } from "../tensor/runtime.js";
import type { Tensor } from "../tensor/tensor.js";
import { deviceOf, seededInput, type OnnxExport } from "./export.js";

export const DEFAULT_TOLERANCE = 1e-4;
/** The batch a dynamic-batch export is checked at: neither of the sizes it was recorded at. */
export const DEFAULT_VERIFY_BATCH = 4;

export interface OutputCheck {
  /** The file's name and the output's ("model.onnx:member_0"). */
  file: string;
  output: string;
  maxAbs: number;
  /** max |divco| of the output. */
  scale: number;
  /** maxAbs / scale. */
  relative: number;
  ok: boolean;
}

export interface VerifyReport {
  runtime: string;
  batch: number;
  seed: number;
  tolerance: number;
  checks: OutputCheck[];
  ok: boolean;
}

export interface VerifyOptions {
  /** The batch size (default: the export's fixed batch, else DEFAULT_VERIFY_BATCH). */
  batch?: number;
  /** Seed of the random input batch (default 0). */
  seed?: number;
  tolerance?: number;
  /** ONNX Runtime's intra-op threads (default: divco's current count). */
  threads?: number;
}

function compare(
  file: string,
  output: string,
  got: Float32Array,
  want: Float32Array,
  tol: number,
): OutputCheck {
  if (got.length !== want.length)
    throw new Error(`${file}: output ${output} has ${got.length} values, divco's ${want.length}`);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    // NaN anywhere fails the check.
    maxAbs = d > maxAbs || Number.isNaN(d) ? d : maxAbs;
    scale = Math.max(scale, Math.abs(want[i]));
  }
  const relative = maxAbs === 0 ? 0 : maxAbs / scale;
  return { file, output, maxAbs, scale, relative, ok: relative <= tol };
}

const floats = (t: Tensor): Float32Array => t.toTypedArray() as Float32Array;

/** onnxruntime-node, loaded only when a verification runs (a dependency of divco). */
async function loadRuntime(): Promise<typeof import("onnxruntime-node")> {
  try {
    return await import("onnxruntime-node");
  } catch (e) {
    throw new Error(
      `verification needs onnxruntime-node, which did not load (${(e as Error).message}); reinstall divco's dependencies (ONNXRUNTIME_NODE_INSTALL=skip npm ci), or export with --no-verify`,
      { cause: e },
    );
  }
}

/** Runs the exported files in ONNX Runtime and compares every output with divco's forward. */
export async function verifyExport(
  exp: OnnxExport,
  members: Members,
  o: VerifyOptions = {},
): Promise<VerifyReport> {
  const ort = await loadRuntime();
  const batch = o.batch ?? (exp.batch === "dynamic" ? DEFAULT_VERIFY_BATCH : exp.batch);
  if (exp.batch !== "dynamic" && batch !== exp.batch)
    throw new RangeError(`the export is for batch ${exp.batch}; it cannot be verified at ${batch}`);
  const seed = o.seed ?? 0;
  const tol = o.tolerance ?? DEFAULT_TOLERANCE;
  const [, , h, w] = exp.inputShape;
  const shape = [batch, 3, h, w];
  const modes = [...members.namedModules()].map(([, m]) => m.training);
  members.eval();
  let want: { members: Float32Array[]; ensemble: Float32Array; memberShape: number[] };
  let x: Float32Array;
  try {
    ({ want, x } = inferenceMode(() =>
      scope(() => {
        const input = seededInput(shape, seed, deviceOf(members));
        const logits = members.forwardEach(input).map((z) => z.to("cpu"));
        const scores = ensemble(exp.rule, logits);
        return {
          x: floats(input),
          want: {
            members: logits.map(floats),
            ensemble: floats(scores),
            memberShape: logits[0].shape,
          },
        };
      }),
    ));
  } finally {
    [...members.namedModules()].forEach(([, m], i) => (m.training = modes[i]));
  }
  const checks: OutputCheck[] = [];
  const fromOrt: Float32Array[] = [];
  for (const f of exp.files) {
    const session = await ort.InferenceSession.create(f.path, {
      executionProviders: ["cpu"],
      intraOpNumThreads: o.threads ?? getNumThreads(),
      interOpNumThreads: 1,
      logSeverityLevel: 3,
    });
    try {
      const results = await session.run({ input: new ort.Tensor("float32", x, shape) });
      const name = f.path.split("/").pop()!;
      for (const out of f.outputs) {
        const got = results[out].data as Float32Array;
        let ref: Float32Array;
        if (out === "ensemble") ref = want.ensemble;
        else if (out === "logits") {
          ref = want.members[f.member!];
          fromOrt[f.member!] = got;
        } else ref = want.members[Number(out.slice("member_".length))];
        checks.push(compare(name, out, got, ref, tol));
      }
    } finally {
      await session.release();
    }
  }
  if (exp.layout === "separate") {
    // The manifest's rule applied to ONNX Runtime's member logits gives divco's ensemble.
    const combined = inferenceMode(() =>
      scope(() =>
        floats(
          ensemble(
            exp.rule,
            fromOrt.map((z) => tensor(z, { shape: want.memberShape })),
          ),
        ),
      ),
    );
    checks.push(
      compare(
        exp.manifest!.split("/").pop()!,
        `ensemble (${exp.rule} of the members)`,
        combined,
        want.ensemble,
        tol,
      ),
    );
  }
  return {
    runtime: `onnxruntime-node ${ort.env.versions.node ?? ""}`.trim(),
    batch,
    seed,
    tolerance: tol,
    checks,
    ok: checks.every((c) => c.ok),
  };
}

/**
 * How far divco's own float32 forward is from its float64 forward on the verification batch: the
 * largest max |f32 − f64| / max |f64| over the members. A model that amplifies rounding (deep
 * untrained networks whose activations grow stage by stage) has a large one, and then no float32
 * runtime can agree with divco much better than that — which is what a failed verification of
 * such a model means. The members are converted to float64 and back in place (exact).
 */
export function float32Noise(members: Members, exp: OnnxExport, o: VerifyOptions = {}): number {
  const batch = o.batch ?? (exp.batch === "dynamic" ? DEFAULT_VERIFY_BATCH : exp.batch);
  const [, , h, w] = exp.inputShape;
  const modes = [...members.namedModules()].map(([, m]) => m.training);
  members.eval();
  const run = (dtype: "f32" | "f64") =>
    inferenceMode(() =>
      scope(() => {
        const x = seededInput([batch, 3, h, w], o.seed ?? 0, deviceOf(members)).to(dtype);
        return members.forwardEach(x).map((z) => z.to("f64").toTypedArray() as Float64Array);
      }),
    );
  try {
    const single = run("f32");
    members.to("f64");
    const double = run("f64");
    return Math.max(
      ...single.map((z, i) => {
        let d = 0;
        let s = 0;
        z.forEach((v, k) => {
          d = Math.max(d, Math.abs(v - double[i][k]));
          s = Math.max(s, Math.abs(double[i][k]));
        });
        return d === 0 ? 0 : d / s;
      }),
    );
  } finally {
    members.to("f32");
    [...members.namedModules()].forEach(([, m], i) => (m.training = modes[i]));
  }
}
