// The HTTP server of `divco serve` (fastify): the Open Inference Protocol endpoints
// (kserve.ts), the image endpoint (image_predict.ts), Prometheus metrics and health, in front
// of one dynamic batcher (batcher.ts) over the ensemble.
//
// Overload never grows memory or crashes: an inference request is admitted when it arrives,
// before its body is read, only while fewer than `maxQueue` are in flight (reading, decoding,
// queued or running); the others get 503 with Retry-After at once. So memory is bounded by
// maxQueue × bodyLimit, and a request leaves its place when answered or when its client goes
// away. Bodies are limited (413), every request has a deadline (504), and close() is the
// graceful shutdown: refuse new connections, finish what is in flight, then stop. The server
// tells the batcher how many admitted requests are still being received or decoded, so a batch
// waits for those (up to maxWaitMs) and for nothing else.
//
//   const server = await createServer(ensemble, { maxBatch: 32, maxWaitMs: 5 });
//   const url = await server.listen({ host: "127.0.0.1", port: 8080 });
//   ...; await server.close();
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from "fastify";
import type { ServerResponse } from "node:http";
import multipart from "@fastify/multipart";
import { pino, type Logger } from "pino";
import { EvalTransform } from "../infer/images.js";
import { Batcher } from "./batcher.js";
import { ServeError, notFound, unavailable } from "./errors.js";
import { forwardOf, type ServedModel } from "./model.js";
import { ServeMetrics } from "./metrics.js";
import { inferResponse, modelMetadata, parseInferRequest } from "./kserve.js";
import { answers, decodeUploads, parsePredictQuery, readUploads } from "./image_predict.js";

export interface ServeOptions {
  /** The model's name in /v2/models/{name} (default: arch_sS, e.g. resnet29_s2). */
  name?: string;
  /** The most images in one forward pass. Default 32. */
  maxBatch?: number;
  /** How long a request may wait for others to fill its batch, ms. Default 5. */
  maxWaitMs?: number;
  /** Inference requests in flight at once; more get 503. Default 4 × maxBatch. */
  maxQueue?: number;
  /** A request's deadline, ms (504 after it). Default 30000. */
  timeoutMs?: number;
  /** The largest request body, bytes. Default 8 MiB. */
  bodyLimit?: number;
  /** Structured logs (default: pino at "info" on stdout). */
  logger?: Logger;
}

/** The server's effective settings. */
export interface ServeSettings {
  name: string;
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  timeoutMs: number;
  bodyLimit: number;
}

/** The package version, for GET /v2 (read once; the server is no hot path for it). */
const VERSION = "0.1.0";

/** The endpoints, for the 404 message. */
const ENDPOINTS =
  "GET /v2, /v2/health/live, /v2/health/ready, /v2/models/NAME, /v2/models/NAME/ready; POST /v2/models/NAME/infer, /v1/predict; GET /metrics";

export function serveSettings(model: ServedModel, o: ServeOptions = {}): ServeSettings {
  const maxBatch = o.maxBatch ?? 32;
  const s: ServeSettings = {
    name: o.name ?? `${model.arch}_s${model.split}`,
    maxBatch,
    maxWaitMs: o.maxWaitMs ?? 5,
    maxQueue: o.maxQueue ?? 4 * maxBatch,
    timeoutMs: o.timeoutMs ?? 30_000,
    bodyLimit: o.bodyLimit ?? 8 * 1024 * 1024,
  };
  const positive = (k: keyof ServeSettings, min: number) => {
    const v = s[k] as number;
    if (!(Number.isInteger(v) && v >= min))
      throw new RangeError(`serve: ${k} must be an integer ≥ ${min}, got ${v}`);
  };
  positive("maxBatch", 1);
  positive("maxWaitMs", 0);
  positive("maxQueue", 1);
  positive("timeoutMs", 1);
  positive("bodyLimit", 1);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s.name))
    throw new RangeError(
      `serve: model name "${s.name}" must be letters, digits, _ . - (it is part of URLs)`,
    );
  return s;
}

export class DivcoServer {
  private ready = true;
  private closing: Promise<void> | null = null;
  private inFlight = 0;
  private readonly signals = new WeakMap<FastifyRequest, AbortSignal>();
  /** Admitted requests not yet submitted to the batcher (being received or decoded). */
  private readonly arrivingRequests = new WeakSet<FastifyRequest>();
  private arrivingCount = 0;

  constructor(
    readonly app: FastifyInstance,
    readonly model: ServedModel,
    readonly settings: ServeSettings,
    readonly batcher: Batcher,
    readonly metrics: ServeMetrics,
  ) {}

  /** Listens (port 0: any free port) and returns the URL, e.g. http://127.0.0.1:8080. */
  async listen(o: { host?: string; port?: number } = {}): Promise<string> {
    return this.app.listen({ host: o.host ?? "127.0.0.1", port: o.port ?? 8080 });
  }

  /** Admitted requests still being received or decoded (the batcher's `arriving`). */
  get arriving(): number {
    return this.arrivingCount;
  }

  /** The request is about to submit (or has failed): it is no longer on its way. */
  arrived(req: FastifyRequest): boolean {
    if (!this.arrivingRequests.delete(req)) return false;
    this.arrivingCount--;
    return true;
  }

  /** Whether it accepts inference requests (false once shutting down). */
  get isReady(): boolean {
    return this.ready;
  }

  /**
   * Graceful shutdown: stop accepting connections (requests on open keep-alive connections get
   * 503), run what is queued without waiting for batches to fill, answer every request in
   * flight, then close the listener. The model stays open: its owner closes it.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ready = false;
      this.app.log.info({ inFlight: this.inFlight }, "shutting down: finishing requests in flight");
      const drained = this.batcher.drain();
      await this.app.close();
      await drained;
      this.app.log.info("shut down");
    })();
    return this.closing;
  }

  /** onRequest of the inference routes: admission control (see the header). */
  admit(req: FastifyRequest, raw: ServerResponse): void {
    if (!this.ready) throw unavailable("the server is shutting down", 1);
    if (this.inFlight >= this.settings.maxQueue)
      throw unavailable(
        `overloaded: ${this.inFlight} inference requests in flight, the most --max-queue allows; retry later`,
        this.batcher.retryAfterSeconds(this.inFlight),
      );
    this.inFlight++;
    this.metrics.inFlight.set(this.inFlight);
    this.arrivingRequests.add(req);
    this.arrivingCount++;
    const abort = new AbortController();
    this.signals.set(req, abort.signal);
    raw.once("close", () => {
      this.inFlight--;
      this.metrics.inFlight.set(this.inFlight);
      // Answered without submitting (bad input): a batch may have waited for it.
      if (this.arrived(req)) this.batcher.poke();
      // Closed before the answer was written: the client went away; drop its queued work.
      if (!raw.writableFinished)
        abort.abort(new ServeError(499, "the client closed the connection"));
    });
  }

  /** The request's abort signal (set by admit). */
  signalOf(req: FastifyRequest): AbortSignal | undefined {
    return this.signals.get(req);
  }
}

/** Builds the server around a loaded model (an Ensemble, or anything ServedModel). */
export async function createServer(model: ServedModel, o: ServeOptions = {}): Promise<DivcoServer> {
  const settings = serveSettings(model, o);
  const logger = o.logger ?? pino({ level: "info" });
  const metrics = new ServeMetrics(settings.maxBatch);
  const batcher: Batcher = new Batcher(forwardOf(model), {
    maxBatch: settings.maxBatch,
    maxWaitMs: settings.maxWaitMs,
    timeoutMs: settings.timeoutMs,
    onBatch: (n) => metrics.batchSize.observe(n),
    onBatchDone: (n, s) => {
      metrics.forwardSeconds.observe(s);
      logger.debug({ batch: n, ms: +(1000 * s).toFixed(2) }, "batch");
    },
    onQueueDepth: (d) => metrics.queueDepth.set(d),
    arriving: (): number => server.arriving,
  });
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps fastify's default instance type.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: settings.bodyLimit,
    // Receiving a request (a slow upload) counts against the same deadline.
    requestTimeout: settings.timeoutMs,
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  const server: DivcoServer = new DivcoServer(app, model, settings, batcher, metrics);
  const transform = new EvalTransform(model.dataset, model.crop);
  const admit = async (req: FastifyRequest, reply: { raw: ServerResponse }) =>
    server.admit(req, reply.raw);
  const checkName = (name: string) => {
    if (name !== settings.name)
      throw notFound(`unknown model "${name}"; this server serves "${settings.name}"`);
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = describeError(err, settings, req);
    if (e.status >= 500 && e.status !== 503 && e.status !== 504)
      req.log.error({ err }, "request failed");
    void reply
      .code(e.status)
      .headers({ ...e.headers })
      .send({ error: e.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .send({ error: `no route ${req.method} ${req.url}; the endpoints are ${ENDPOINTS}` });
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  // Health and metadata (Open Inference Protocol, kserve.ts).
  app.get("/v2", async () => ({ name: "divco", version: VERSION, extensions: [] }));
  app.get("/v2/health/live", async () => ({ live: true }));
  app.get("/v2/health/ready", async (_req, reply) => {
    void reply.code(server.isReady ? 200 : 503);
    return { ready: server.isReady };
  });
  app.get<{ Params: { name: string } }>("/v2/models/:name", async (req) => {
    checkName(req.params.name);
    return modelMetadata(model, settings.name);
  });
  app.get<{ Params: { name: string } }>("/v2/models/:name/ready", async (req, reply) => {
    checkName(req.params.name);
    void reply.code(server.isReady ? 200 : 503);
    return { name: settings.name, ready: server.isReady };
  });
  app.post<{ Params: { name: string } }>(
    "/v2/models/:name/infer",
    { onRequest: admit },
    async (req) => {
      checkName(req.params.name);
      const r = parseInferRequest(req.body, model, settings.maxBatch);
      server.arrived(req);
      const out = await batcher.submit(r.data, r.n, server.signalOf(req));
      return inferResponse(settings.name, r, out);
    },
  );

  // The image endpoint, with its own body parsers: images and multipart are taken here only.
  await app.register(async (images) => {
    images.addContentTypeParser(/^image\//, { parseAs: "buffer" }, (_req, body, done) =>
      done(null, body),
    );
    await images.register(multipart, {
      limits: {
        fileSize: settings.bodyLimit,
        // One more than allowed, so that readUploads names the limit itself.
        files: settings.maxBatch + 1,
        fields: 8,
      },
      throwFileSizeLimit: true,
    });
    images.post("/v1/predict", { onRequest: admit }, async (req) => {
      const q = parsePredictQuery(req.query, model.numClasses);
      const uploads = await readUploads(req, settings.maxBatch, settings.bodyLimit);
      const rows = await decodeUploads(uploads, transform);
      server.arrived(req);
      const out = await batcher.submit(rows, uploads.length, server.signalOf(req));
      return { model: settings.name, predictions: answers(uploads, out, q, model) };
    });
  });

  app.get("/metrics", async (_req, reply) => {
    void reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  await app.ready();
  return server;
}

/** What an error is answered with: fastify's and the multipart plugin's in the server's words. */
function describeError(
  err: FastifyError,
  s: ServeSettings,
  req: FastifyRequest,
): { status: number; message: string; headers: Readonly<Record<string, string>> } {
  if (err instanceof ServeError)
    return { status: err.status, message: err.message, headers: err.headers };
  const plain = (status: number, message: string) => ({ status, message, headers: {} });
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
    case "FST_REQ_FILE_TOO_LARGE":
      return plain(
        413,
        `the request body is larger than the limit of ${s.bodyLimit} bytes (--body-limit-mb)`,
      );
    case "FST_FILES_LIMIT":
    case "FST_PARTS_LIMIT":
    case "FST_FIELDS_LIMIT":
      return plain(
        413,
        `too many parts in the multipart body: at most ${s.maxBatch} image files (--max-batch)`,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return plain(
        415,
        `Content-Type ${req.headers["content-type"] ?? "(none)"} is not taken by ${req.method} ${req.url}: /v1/predict takes an image (image/jpeg, image/png) or multipart/form-data, /v2/models/NAME/infer application/json`,
      );
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return plain(400, `the body is not valid JSON: ${err.message}`);
  }
  if (err instanceof SyntaxError) return plain(400, `the body is not valid JSON: ${err.message}`);
  const status = err.statusCode;
  if (status !== undefined && status >= 400 && status < 500)
    return plain(status === 406 ? 400 : status, err.message);
  // Malformed multipart bodies surface as plain errors from the parser, while it is read.
  if (req.isMultipart?.() && !(status && status >= 500))
    return plain(400, `malformed multipart body: ${err.message}`);
  return plain(500, `internal error: ${err.message}`);
}
