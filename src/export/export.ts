// `divco export --format onnx`: a divided model's members as ONNX, in one of three layouts:
//   ensemble  one graph: input → every member → the ensemble rule; outputs `ensemble` and
//             `member_0` … `member_{S-1}` (logits)
//   separate  one graph per member (output `logits`) and a JSON manifest saying how to combine
//             them (rule, files, input shape, normalisation, class names)
//   fused     the members' horizontally fused network (infer/fuse.ts) as one graph, with the
//             same outputs as `ensemble`
// Each graph is the model's own evaluation forward, recorded op by op (record.ts) and written
// with the ATen → ONNX table; the batch axis is dynamic unless a fixed size is asked for.
import { basename } from "node:path";
import { writeFileAtomicSync } from "../io/atomic.js";
import type { Module } from "../nn/module.js";
import type { Members } from "../models/members.js";
import { ensemble, ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
import { NORMALIZATION } from "../data/stats.js";
import { FusedMembers } from "../infer/fuse.js";
import { Generator } from "../tensor/random.js";
import { randn } from "../tensor/creation.js";
import { inferenceMode } from "../tensor/autograd.js";
import type { Device, Tensor } from "../tensor/tensor.js";
import { recordForward } from "./record.js";
import { batchDependence, FIXED_BATCH, type BatchDependence } from "./dynamic_batch.js";
import { MAX_OPSET, MIN_OPSET, traceToModel } from "./to_onnx.js";
import { writeModel, type WrittenModel } from "./model_file.js";
import { divcoVersion } from "./onnx_proto.js";
import { ExportError, type Trace } from "./trace.js";

export type MemberLayout = "ensemble" | "separate" | "fused";
export const MEMBER_LAYOUTS: readonly MemberLayout[] = ["ensemble", "separate", "fused"];

/** The opset written when none is asked for: what ONNX Runtime and onnx 1.12's checker both know. */
export const DEFAULT_OPSET = 17;

export interface OnnxExportOptions {
  /** Default "ensemble". */
  members?: MemberLayout;
  /** "dynamic" (default): the batch axis is the symbolic N; a number fixes it. */
  batch?: "dynamic" | number;
  /** Default 17. */
  opset?: number;
  /** Fold evaluation-mode BN into the preceding convolution (default true). */
  foldBatchNorm?: boolean;
  /** How the ensemble combines the members (REFERENCE.md §4); default mean_logits. */
  rule?: EnsembleRule;
  /** The dataset's class names, for the manifest and metadata. */
  classNames?: readonly string[] | null;
  /** External data for the weights: true, false, or "auto" (default: only for models over 1.5 GiB). */
  externalData?: boolean | "auto";
}

/** One written .onnx file. */
export interface ExportedGraph extends WrittenModel {
  /** Its output names in order. */
  outputs: string[];
  nodes: number;
  /** The member it holds (separate layout). */
  member?: number;
}

/** What an export wrote and how to feed it. */
export interface OnnxExport {
  layout: MemberLayout;
  files: ExportedGraph[];
  /** The manifest (separate layout). */
  manifest?: string;
  opset: number;
  batch: "dynamic" | number;
  rule: EnsembleRule;
  /** [N, 3, H, W]; N is "N" for a dynamic batch. */
  inputShape: [number | "N", number, number, number];
  /** Conv → BN pairs folded, over all files. */
  foldedBatchNorms: number;
}

/** The JSON manifest of the separate layout (and the "divco" metadata entry of every file). */
export interface ExportManifest {
  format: "divco-onnx";
  version: 1;
  layout: MemberLayout;
  arch: string;
  split: number;
  dataset: string;
  num_classes: number;
  /** How the member logits combine into the ensemble's scores (REFERENCE.md §4). */
  rule: EnsembleRule;
  input: { name: "input"; shape: (number | "N")[]; dtype: "float32"; layout: "NCHW" };
  /** The input is (pixel / 255 − mean) / std per RGB channel. */
  normalization: { mean: readonly number[]; std: readonly number[] };
  class_names: readonly string[] | null;
  opset: number;
  /** separate: one entry per member; the others: the one file. */
  files: { file: string; outputs: string[]; member?: number }[];
}

const TRACE_BATCHES = [2, 3] as const;

/** The device a module's weights are on (where its input must be). */
export function deviceOf(m: Module): Device {
  return m.parameters()[0]?.device ?? "cpu";
}

/** A seeded batch of random images (drawn on the CPU, so the same on every device). */
export function seededInput(
  shape: readonly number[],
  seed: number,
  device: Device = "cpu",
): Tensor {
  const x = randn([...shape], { generator: new Generator(seed) });
  if (device === "cpu") return x;
  const moved = x.to(device);
  x.dispose();
  return moved;
}

/**
 * Records `forward` on `root` at two batch sizes (dynamic) or the fixed one, and compares the
 * recordings to find the batch axes.
 */
function recordGraph(
  root: Module,
  crop: number,
  batch: "dynamic" | number,
  forward: (x: Tensor) => Map<string, Tensor>,
): { trace: Trace; dep: BatchDependence } {
  const run = (n: number) =>
    inferenceMode(() => {
      using x = seededInput([n, 3, crop, crop], 1, deviceOf(root));
      return recordForward(root, x, forward);
    });
  if (batch !== "dynamic") return { trace: run(batch), dep: FIXED_BATCH };
  const trace = run(TRACE_BATCHES[0]);
  return { trace, dep: batchDependence(trace, run(TRACE_BATCHES[1])) };
}

function checkOptions(o: OnnxExportOptions): Required<Omit<OnnxExportOptions, "classNames">> {
  const layout = o.members ?? "ensemble";
  if (!MEMBER_LAYOUTS.includes(layout))
    throw new ExportError(`unknown member layout "${layout}"; use ${MEMBER_LAYOUTS.join(", ")}`);
  const batch = o.batch ?? "dynamic";
  if (batch !== "dynamic" && !(Number.isInteger(batch) && batch >= 1))
    throw new ExportError(`the batch must be "dynamic" or a positive integer, got ${batch}`);
  const opset = o.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new ExportError(`opset ${opset} is not supported; use ${MIN_OPSET} to ${MAX_OPSET}`);
  const rule = o.rule ?? "mean_logits";
  if (!ENSEMBLE_RULES.includes(rule))
    throw new ExportError(`unknown ensemble rule "${rule}"; use ${ENSEMBLE_RULES.join(", ")}`);
  return {
    members: layout,
    batch,
    opset,
    rule,
    foldBatchNorm: o.foldBatchNorm ?? true,
    externalData: o.externalData ?? "auto",
  };
}

/** `path` without its .onnx/.json extension. */
function stemOf(path: string): string {
  return path.replace(/\.(onnx|json)$/i, "");
}

/** The member files of the separate layout: <stem>.member_<i>.onnx beside the manifest <stem>.json. */
export function separatePaths(out: string, split: number): { manifest: string; members: string[] } {
  const stem = stemOf(out);
  return {
    manifest: `${stem}.json`,
    members: Array.from({ length: split }, (_, i) => `${stem}.member_${i}.onnx`),
  };
}

/**
 * Exports `members` as ONNX to `out` (the .onnx file; for the separate layout the manifest goes to
 * `<stem>.json` and the members to `<stem>.member_<i>.onnx`). The members are put in evaluation
 * mode for the recording and restored after.
 */
export function exportOnnx(
  members: Members,
  out: string,
  options: OnnxExportOptions = {},
): OnnxExport {
  const o = checkOptions(options);
  const crop = members.options.crop;
  const S = members.split;
  const modes = [...members.namedModules()].map(([, m]) => m.training);
  members.eval();
  const manifest: ExportManifest = {
    format: "divco-onnx",
    version: 1,
    layout: o.members,
    arch: members.arch,
    split: S,
    dataset: members.options.dataset,
    num_classes: members.options.numClasses,
    rule: o.rule,
    input: {
      name: "input",
      shape: [o.batch === "dynamic" ? "N" : o.batch, 3, crop, crop],
      dtype: "float32",
      layout: "NCHW",
    },
    normalization: { ...NORMALIZATION[members.options.dataset] },
    class_names: options.classNames ?? null,
    opset: o.opset,
    files: [],
  };
  let folded = 0;
  const write = (
    root: Module,
    path: string,
    graphName: string,
    forward: (x: Tensor) => Map<string, Tensor>,
    member?: number,
  ): ExportedGraph => {
    const { trace, dep } = recordGraph(root, crop, o.batch, forward);
    const outputs = [...trace.outputs.keys()];
    const entry =
      member === undefined
        ? { file: basename(path), outputs }
        : { file: basename(path), outputs, member };
    manifest.files.push(entry);
    const { model, foldedBatchNorms } = traceToModel(trace, dep, {
      opset: o.opset,
      foldBatchNorm: o.foldBatchNorm,
      graphName,
      docString: `${members.arch} divided into S=${S} (divco ${o.members} export)`,
      producerVersion: divcoVersion(),
      metadata: { divco: JSON.stringify({ ...manifest, files: [entry] }) },
    });
    folded += foldedBatchNorms;
    const written = writeModel(model, path, o.externalData);
    return { ...written, outputs, nodes: model.graph.node.length, member };
  };
  const files: ExportedGraph[] = [];
  let manifestPath: string | undefined;
  try {
    const name = `${members.arch}_S${S}`;
    if (o.members === "ensemble") {
      files.push(
        write(members, out, name, (x) => {
          const logits = members.forwardEach(x);
          const scores = ensemble(o.rule, logits);
          return new Map([
            ["ensemble", scores],
            ...logits.map((z, i) => [`member_${i}`, z] as [string, Tensor]),
          ]);
        }),
      );
    } else if (o.members === "separate") {
      const paths = separatePaths(out, S);
      members.models.items.forEach((m, i) => {
        files.push(
          write(
            m,
            paths.members[i],
            `${name}_member_${i}`,
            (x) => new Map([["logits", m.forward(x)]]),
            i,
          ),
        );
      });
      manifestPath = paths.manifest;
      writeFileAtomicSync(
        manifestPath,
        new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"),
      );
    } else {
      using probe = seededInput([TRACE_BATCHES[0], 3, crop, crop], 1, deviceOf(members));
      using fused = FusedMembers.build(members.models.items, probe, members.arch);
      files.push(
        write(fused.net, out, `${name}_fused`, (x) => {
          const logits = fused.forward(x);
          const scores = ensemble(o.rule, logits);
          return new Map([
            ["ensemble", scores],
            ...logits.map((z, i) => [`member_${i}`, z] as [string, Tensor]),
          ]);
        }),
      );
    }
  } finally {
    [...members.namedModules()].forEach(([, m], i) => (m.training = modes[i]));
  }
  return {
    layout: o.members,
    files,
    manifest: manifestPath,
    opset: o.opset,
    batch: o.batch,
    rule: o.rule,
    inputShape: [o.batch === "dynamic" ? "N" : o.batch, 3, crop, crop],
    foldedBatchNorms: folded,
  };
}
