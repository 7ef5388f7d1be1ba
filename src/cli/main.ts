#!/usr/bin/env node
// The `divco` command. Each subcommand lives in its own file and is loaded only when used,
// so `divco data ...` never pays for loading libtorch.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stdio, type Out } from "./args.js";

type Runner = (argv: string[], out: Out) => Promise<number>;

const COMMANDS: Record<string, { help: string; load: () => Promise<Runner> }> = {
  data: {
    help: "get, check and describe datasets (CIFAR-10/100, SVHN, ImageNet folders)",
    load: async () => (await import("./data.js")).runData,
  },
  summary: {
    help: "params and MACs of an architecture divided into S members",
    load: async () => (await import("./summary.js")).runSummary,
  },
  import: {
    help: "convert a PyTorch checkpoint (.pth) to safetensors",
    load: async () => (await import("./import.js")).runImport,
  },
  infer: {
    help: "run a divided model on a stored tensor batch (members + ensemble logits)",
    load: async () => (await import("./infer.js")).runInfer,
  },
  predict: {
    help: "classify image files (JPEG/PNG) with a run's ensemble",
    load: async () => (await import("./predict.js")).runPredict,
  },
  serve: {
    help: "serve a run's ensemble over HTTP (KServe v2 + image endpoint, dynamic batching)",
    load: async () => (await import("./serve.js")).runServe,
  },
  bench: {
    help: "latency of the undivided network vs its members in every execution mode",
    load: async () => (await import("./bench.js")).runBench,
  },
  export: {
    help: "write a divided model as ONNX for deployment, checked in ONNX Runtime",
    load: async () => (await import("./export.js")).runExport,
  },
  train: {
    help: "co-train S members of an architecture (resumable run directories)",
    load: async () => (await import("./train.js")).runTrain,
  },
  launch: {
    help: "start a distributed run's processes on this machine (torchrun's environment)",
    load: async () => (await import("./launch.js")).runLaunch,
  },
  demo: {
    help: "offline demo: S=2 vs S=1 on the embedded CIFAR-10 sample (~3 min)",
    load: async () => (await import("./demo.js")).runDemo,
  },
  eval: {
    help: "evaluate a run's checkpoint or a weights file (ensemble and members)",
    load: async () => (await import("./eval.js")).runEval,
  },
  report: {
    help: "HTML report of run directories: training curves, accuracy vs params/MACs/latency",
    load: async () => (await import("./report.js")).runReport,
  },
  info: {
    help: "the engine's build: libtorch version, threads, devices",
    load: async () => (await import("./info.js")).runInfo,
  },
};

const USAGE = () =>
  `divco — Divide and Co-training for TypeScript

Usage: divco <command> [options]   (divco <command> --help for details)

Commands:
${Object.entries(COMMANDS)
  .map(([k, v]) => `  ${k.padEnd(9)} ${v.help}`)
  .join("\n")}
`;

/** The names of the subcommands, in the order `divco --help` lists them. */
export const COMMAND_NAMES = Object.keys(COMMANDS);

/** Runs `divco <argv>`: 0 ok, 1 failed, 2 usage error (each subcommand documents its own codes). */
export async function main(argv: string[], out: Out = stdio): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    out.log(USAGE().trimEnd());
    return cmd ? 0 : 2;
  }
  const entry = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!entry) {
    out.err(`divco: unknown command "${cmd}" (${COMMAND_NAMES.join(", ")}; see divco --help)`);
    return 2;
  }
  return (await entry.load())(rest, out);
}

// Run when executed directly (also through the npm bin symlink).
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `divco ... | head` closes the pipe early: that is not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`divco: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
