// `divco serve`: a run's ensemble (or a weights file) over HTTP — the Open Inference Protocol
// (KServe v2) endpoints, POST /v1/predict for image bodies, dynamic batching, Prometheus
// metrics at /metrics, JSON logs (pino) on stdout. It runs until SIGTERM or SIGINT, then shuts
// down gracefully: no new connections, every request in flight answered, exit 0.
// Exit codes: 0 shut down by a signal, 1 the model or the port failed, 2 usage error.
import { pino, type Logger } from "pino";
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
import { EXTRA_FLAG, NUM_CLASSES_FLAG } from "./arch_flags.js";
import {
  CHECKPOINT_FLAG,
  MODE_FLAG,
  RUN_FLAG,
  WEIGHTS_MODEL_FLAGS,
  THREADS_FLAG,
  modeFromFlag,
  modelSourceFromFlags,
  threadsFromFlag,
} from "./infer_flags.js";
import { Ensemble } from "../infer/predictor.js";
import { createServer, serveSettings } from "../serve/server.js";
import "../models/index.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export const SERVE = defineCommand({
  name: "serve",
  summary: "serve a run's ensemble over HTTP (KServe v2 + image endpoint, dynamic batching)",
  usage: [
    "--run DIR [--checkpoint best|last|epoch-NNNN] [options]",
    "--weights W --arch NAME --split S --dataset D [options]",
  ],
  description: `Endpoints (the model's NAME is --name, default ARCH_sS, e.g. resnet29_s2):
  GET  /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME, /v2/models/NAME/ready
  POST /v2/models/NAME/infer   Open Inference Protocol: {"inputs": [{"name": "input",
       "shape": [N, 3, H, W], "datatype": "FP32", "data": [...]}]} (normalised images) →
       outputs "probabilities", "ensemble" (scores by the ensemble rule), "member_0".. (logits)
  POST /v1/predict[?top=K&members=true]   an image body (Content-Type image/jpeg, image/png)
       or multipart/form-data image files → top-k classes (and each member's, on request)
  GET  /metrics   Prometheus: requests by status, latency, batch size, queue depth
Concurrent requests are batched: a forward pass runs when --max-batch images wait, when the
oldest has waited --max-wait-ms, or once no other admitted request is still arriving (so a lone
request runs at once). More than --max-queue requests in flight get 503 with Retry-After; a
request without a result after --timeout-ms gets 504. SIGTERM/SIGINT: stop accepting, finish
the requests in flight, exit 0.`,
  flags: {
    run: RUN_FLAG,
    checkpoint: CHECKPOINT_FLAG,
    ...WEIGHTS_MODEL_FLAGS,
    "num-classes": NUM_CLASSES_FLAG,
    extra: EXTRA_FLAG,
    name: {
      type: "string",
      value: "NAME",
      defaultText: "ARCH_sS",
      description: "the model's name in /v2/models/NAME",
    },
    mode: {
      ...MODE_FLAG,
      default: "auto",
      description: `${MODE_FLAG.description}; auto measures at --max-batch images`,
    },
    threads: THREADS_FLAG,
    host: {
      type: "string",
      value: "HOST",
      default: "127.0.0.1",
      description: "address to listen on (0.0.0.0: every interface)",
    },
    port: { type: "string", value: "N", default: "8080", description: "port (0: any free port)" },
    "max-batch": {
      type: "string",
      value: "N",
      default: "32",
      description: "most images in one forward pass (and per request)",
    },
    "max-wait-ms": {
      type: "string",
      value: "MS",
      default: "5",
      description: "longest a request waits for others still arriving to fill its batch",
    },
    "max-queue": {
      type: "string",
      value: "N",
      defaultText: "4 × max-batch",
      description: "inference requests in flight at once; more get 503 + Retry-After",
    },
    "timeout-ms": {
      type: "string",
      value: "MS",
      default: "30000",
      description: "per-request deadline; past it the answer is 504",
    },
    "body-limit-mb": {
      type: "string",
      value: "MB",
      default: "8",
      description: "largest request body in MiB (413 above it)",
    },
    "log-level": {
      type: "string",
      value: "LEVEL",
      default: "info",
      description: `JSON log level: ${LOG_LEVELS.join(", ")}`,
    },
  },
  notes:
    "Exit codes: 0 shut down by SIGTERM/SIGINT, 1 the model or the port failed, 2 usage error.",
});

export async function runServe(argv: string[], out: Out = stdio): Promise<number> {
  return runCommand(SERVE, argv, out, (args) => serve(args.values, out), {
    usageErrors: [ArchError],
  });
}

/**
 * SIGTERM and SIGINT as a promise (the first one); a second one while shutting down exits at
 * once. dispose() gives the signals back to Node's defaults.
 */
function catchSignals(logger: Logger): { received: Promise<string>; dispose: () => void } {
  let resolve!: (s: string) => void;
  const received = new Promise<string>((r) => (resolve = r));
  let got: string | null = null;
  const onSignal = (s: NodeJS.Signals) => {
    if (got !== null) {
      logger.warn({ signal: s }, "second signal: exiting without finishing the requests in flight");
      process.exit(1);
    }
    got = s;
    resolve(s);
  };
  const names = ["SIGTERM", "SIGINT"] as const;
  for (const s of names) process.on(s, onSignal);
  return { received, dispose: () => names.forEach((s) => process.off(s, onSignal)) };
}

function positiveNumberFlag(flag: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${flag} takes a positive number, got "${raw}"`);
  return n;
}

async function serve(values: ValuesOf<typeof SERVE>, out: Out): Promise<number> {
  const source = modelSourceFromFlags(values);
  const mode = modeFromFlag(values.mode);
  const threads = threadsFromFlag(values.threads);
  const port = intFlag("port", values.port, 0);
  const maxBatch = intFlag("max-batch", values["max-batch"]);
  const options = {
    name: values.name,
    maxBatch,
    maxWaitMs: intFlag("max-wait-ms", values["max-wait-ms"], 0),
    maxQueue:
      values["max-queue"] === undefined ? 4 * maxBatch : intFlag("max-queue", values["max-queue"]),
    timeoutMs: intFlag("timeout-ms", values["timeout-ms"]),
    bodyLimit: Math.round(positiveNumberFlag("body-limit-mb", values["body-limit-mb"]) * 2 ** 20),
  };
  if (!LOG_LEVELS.includes(values["log-level"]))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const logger: Logger = pino({ level: values["log-level"], base: { pid: process.pid } });

  let ensemble: Ensemble;
  try {
    ensemble = await Ensemble.load(source, { mode, threads, batchSize: maxBatch });
  } catch (e) {
    out.err(`divco serve: ${(e as Error).message}`);
    return 1;
  }
  try {
    try {
      serveSettings(ensemble, options);
    } catch (e) {
      throw new UsageError((e as Error).message.replace(/^serve: /, ""));
    }
    logger.info(
      {
        arch: ensemble.arch,
        split: ensemble.split,
        dataset: ensemble.dataset,
        ensemble_rule: ensemble.rule,
        mode: ensemble.mode,
        layout: ensemble.layout,
        auto: ensemble.auto?.candidates,
      },
      "model loaded",
    );
    const server = await createServer(ensemble, { ...options, logger });
    // Signals are caught before listening, so one that arrives at once still shuts down cleanly.
    const signals = catchSignals(logger);
    try {
      let url: string;
      try {
        url = await server.listen({ host: values.host, port });
      } catch (e) {
        await server.close();
        out.err(`divco serve: cannot listen on ${values.host}:${port}: ${(e as Error).message}`);
        return 1;
      }
      logger.info({ url, model: server.settings.name, ...server.settings }, "listening");
      const signal = await signals.received;
      logger.info({ signal }, "signal received");
      await server.close();
      return 0;
    } finally {
      signals.dispose();
    }
  } finally {
    await ensemble.close();
  }
}
