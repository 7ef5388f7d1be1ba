// `divco export`: a divided model for deployment as ONNX — one ensemble graph (default), one graph
// per member with a JSON manifest, or the fused network — written from the model's recorded
// evaluation forward, then verified in ONNX Runtime against divco's own forward on a seeded batch
// (--no-verify skips it).
// Exit codes: 0 written (and verified), 1 the model could not be exported or failed
// verification, 2 usage error.
import {
  defineCommand,
  intFlag,
  runCommand,
  stdio,
  UsageError,
  type Out,
  type ValuesOf,
} from "./args.js";
import { ArchError } from "../models/registry.js";
import { openMembers } from "../infer/predictor.js";
import { ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
import type { Members } from "../models/members.js";
import { classNamesFor } from "../data/class_names.js";
import { setNumThreads } from "../tensor/runtime.js";
import { EXTRA_FLAG, NUM_CLASSES_FLAG } from "./arch_flags.js";
import {
  CHECKPOINT_FLAG,
  RUN_FLAG,
  WEIGHTS_MODEL_FLAGS,
  modelSourceFromFlags,
  threadsFromFlag,
} from "./infer_flags.js";
import {
  exportOnnx,
  verifyExport,
  float32Noise,
  DEFAULT_OPSET,
  DEFAULT_TOLERANCE,
  DEFAULT_VERIFY_BATCH,
  MEMBER_LAYOUTS,
  MIN_OPSET,
  MAX_OPSET,
  type MemberLayout,
  type OnnxExport,
  type VerifyReport,
} from "../export/index.js";
import "../models/index.js";

export const EXPORT = defineCommand({
  name: "export",
  summary: "write a divided model as ONNX for deployment, checked in ONNX Runtime",
  usage: [
    "--run DIR [--checkpoint best|last|epoch-NNNN] --out model.onnx [options]",
    "--weights W --arch NAME --split S --dataset D --out model.onnx [options]",
  ],
  description: `--members ensemble (default): one graph with every member and the ensemble rule; input
"input" (N×3×H×W float32, normalised as the dataset's evaluation transform does), outputs
"ensemble" (the rule's scores) and "member_0" … "member_{S-1}" (logits).
--members separate: <stem>.member_<i>.onnx (output "logits") and a manifest <stem>.json
(rule, files, input shape, normalisation, class names).
--members fused: the members' horizontally fused network as one graph, outputs as ensemble
(architectures whose members fuse: see README "Fast inference").
The batch axis is dynamic (the symbolic N) unless --batch N fixes it. Batch norm is folded into
the preceding convolution unless --no-fold-bn. Verification (on unless --no-verify) runs the
written files in onnxruntime-node on a seeded batch and compares every output with divco's
own forward: it fails when max |onnx − divco| > ${DEFAULT_TOLERANCE} · max |divco| for an output.`,
  flags: {
    run: RUN_FLAG,
    checkpoint: CHECKPOINT_FLAG,
    ...WEIGHTS_MODEL_FLAGS,
    "num-classes": NUM_CLASSES_FLAG,
    extra: EXTRA_FLAG,
    format: { type: "string", value: "FMT", default: "onnx", description: "output format: onnx" },
    out: {
      type: "string",
      value: "FILE",
      required: true,
      description: "the .onnx file (separate: the member files and manifest are named after it)",
    },
    members: {
      type: "string",
      value: "LAYOUT",
      default: "ensemble",
      description: `how members are laid out: ${MEMBER_LAYOUTS.join(", ")}`,
    },
    batch: {
      type: "string",
      value: "dynamic|N",
      default: "dynamic",
      description: "the input's batch size: dynamic, or a fixed N",
    },
    opset: {
      type: "string",
      value: "N",
      default: String(DEFAULT_OPSET),
      description: `ONNX opset, ${MIN_OPSET} to ${MAX_OPSET}`,
    },
    rule: {
      type: "string",
      value: "RULE",
      defaultText: "run's rule",
      description: `ensemble rule: ${ENSEMBLE_RULES.join(", ")} (default: the run's, else mean_logits)`,
    },
    "fold-bn": {
      type: "boolean",
      negatable: true,
      description:
        "fold batch norm into the preceding convolution (default on; --no-fold-bn keeps it)",
    },
    "external-data": {
      type: "boolean",
      description: "keep the weights in <file>.data beside the model (automatic above 1.5 GiB)",
    },
    verify: {
      type: "boolean",
      negatable: true,
      description: "check the files in ONNX Runtime against divco's forward (default on)",
    },
    "verify-batch": {
      type: "string",
      value: "N",
      defaultText: `${DEFAULT_VERIFY_BATCH} or --batch`,
      description: "batch size of the verification input",
    },
    seed: {
      type: "string",
      value: "N",
      default: "0",
      description: "seed of the verification input",
    },
    threads: {
      type: "string",
      value: "N",
      defaultText: "all cores",
      description: "intra-op CPU threads of divco's forward and of ONNX Runtime",
    },
    json: { type: "boolean", description: "print one JSON object" },
  },
  notes:
    "Exit codes: 0 written (and verified), 1 not exportable or verification failed, 2 usage error.",
});

type Values = ValuesOf<typeof EXPORT>;

interface Opened {
  members: Members;
  rule?: string;
  dataDir?: string;
}

function openModel(v: Values): Opened {
  const { members, rule, data } = openMembers(modelSourceFromFlags(v));
  return { members, rule, dataDir: data };
}

function layoutFromFlag(raw: string): MemberLayout {
  if (!(MEMBER_LAYOUTS as readonly string[]).includes(raw))
    throw new UsageError(`--members must be one of ${MEMBER_LAYOUTS.join(", ")}, got "${raw}"`);
  return raw as MemberLayout;
}

function batchFromFlag(raw: string): "dynamic" | number {
  return raw === "dynamic" ? "dynamic" : intFlag("batch", raw);
}

function ruleFromFlag(raw: string | undefined): EnsembleRule | undefined {
  if (raw !== undefined && !(ENSEMBLE_RULES as readonly string[]).includes(raw))
    throw new UsageError(`--rule must be one of ${ENSEMBLE_RULES.join(", ")}, got "${raw}"`);
  return raw as EnsembleRule | undefined;
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

function describeExport(e: OnnxExport, arch: string, split: number, out: Out): void {
  for (const f of e.files) {
    const data = f.dataPath ? ` + ${f.dataPath} (${mb(f.dataBytes ?? 0)})` : "";
    const what =
      f.member === undefined ? `${e.layout} of ${split} member(s)` : `member ${f.member}`;
    out.log(
      `wrote ${f.path} (${mb(f.bytes)}${data}): ${arch} ${what}, ${f.nodes} nodes, outputs ${f.outputs.join(", ")}`,
    );
  }
  if (e.manifest)
    out.log(
      `wrote ${e.manifest}: the manifest (rule ${e.rule}, member files, input, normalisation)`,
    );
  out.log(
    `input "input" [${e.inputShape.join(", ")}] float32, opset ${e.opset}, ${e.foldedBatchNorms} batch norm(s) folded`,
  );
}

function describeVerify(r: VerifyReport, out: Out): void {
  out.log(
    `verify: ${r.runtime}, batch ${r.batch}, seed ${r.seed}, tolerance ${r.tolerance} relative to each output's max |value|`,
  );
  for (const c of r.checks)
    out.log(
      `  ${c.ok ? "ok  " : "FAIL"} ${c.file} ${c.output}: max |Δ| ${c.maxAbs.toExponential(2)}, relative ${c.relative.toExponential(2)} (max |divco| ${c.scale.toExponential(2)})`,
    );
}

async function runExportBody(v: Values, out: Out): Promise<number> {
  if (v.format !== "onnx") throw new UsageError(`--format must be onnx, got "${v.format}"`);
  const members = layoutFromFlag(v.members);
  const batch = batchFromFlag(v.batch);
  const opset = intFlag("opset", v.opset);
  if (opset < MIN_OPSET || opset > MAX_OPSET)
    throw new UsageError(`--opset must be ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  const ruleFlag = ruleFromFlag(v.rule);
  const verifyBatch =
    v["verify-batch"] === undefined ? undefined : intFlag("verify-batch", v["verify-batch"]);
  if (verifyBatch !== undefined && batch !== "dynamic" && verifyBatch !== batch)
    throw new UsageError(`--verify-batch ${verifyBatch} differs from the fixed --batch ${batch}`);
  const seed = intFlag("seed", v.seed, 0);
  const threads = threadsFromFlag(v.threads);
  setNumThreads(threads);
  let opened: Opened;
  try {
    opened = openModel(v);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ArchError) throw e;
    out.err(`divco export: ${(e as Error).message}`);
    return 1;
  }
  const m = opened.members;
  try {
    const rule = ruleFlag ?? (opened.rule as EnsembleRule | undefined) ?? "mean_logits";
    const classNames = classNamesFor(m.options.dataset, m.options.numClasses, opened.dataDir);
    const exported = exportOnnx(m, v.out, {
      members,
      batch,
      opset,
      rule,
      classNames,
      foldBatchNorm: v["fold-bn"] ?? true,
      externalData: v["external-data"] ? true : "auto",
    });
    const report =
      v.verify === false
        ? null
        : await verifyExport(exported, m, { batch: verifyBatch, seed, threads });
    if (v.json)
      out.log(
        JSON.stringify({
          arch: m.arch,
          split: m.split,
          dataset: m.options.dataset,
          ...exported,
          verify: report,
        }),
      );
    else {
      describeExport(exported, m.arch, m.split, out);
      if (report) describeVerify(report, out);
      else out.log("verify: skipped (--no-verify)");
    }
    if (report && !report.ok) {
      out.err(
        `divco export: the exported model differs from divco's forward beyond ${report.tolerance} relative (see above); the files are kept for inspection — do not deploy them`,
      );
      const noise = float32Noise(m, exported, { batch: verifyBatch, seed });
      if (noise > report.tolerance)
        out.err(
          `divco export: divco's own float32 forward differs from its float64 forward by ${noise.toExponential(2)} relative on the same batch: this model amplifies float32 rounding (untrained weights often do), so no float32 runtime can match it to ${report.tolerance}`,
        );
      return 1;
    }
    return 0;
  } catch (e) {
    out.err(`divco export: ${(e as Error).message}`);
    return 1;
  } finally {
    m.dispose();
  }
}

export async function runExport(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(EXPORT, argv, out, (args) => runExportBody(args.values, out), {
    usageErrors: [ArchError],
  });
}
