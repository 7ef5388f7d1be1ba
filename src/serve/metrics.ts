// The server's Prometheus metrics (prom-client), in a registry of its own so that several
// servers in one process (tests, a library user) do not collide: requests by route and status,
// request latency, batch sizes, forward-pass time and queue depth, plus the Node process's
// default metrics (CPU, memory, event-loop lag).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"method" | "route" | "status">;
  readonly latency: Histogram<"method" | "route">;
  readonly batchSize: Histogram;
  readonly forwardSeconds: Histogram;
  readonly queueDepth: Gauge;
  readonly inFlight: Gauge;

  constructor(maxBatch: number) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "divco_serve_requests_total",
      help: "HTTP requests answered, by method, route (the pattern, not the path) and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.latency = new Histogram({
      name: "divco_serve_request_duration_seconds",
      help: "Time from request to response, by method and route",
      labelNames: ["method", "route"],
      // 1 ms (a lone small image) to 10 s (a long queue of large ones).
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchSize = new Histogram({
      name: "divco_serve_batch_size",
      help: "Images per forward pass (dynamic batching)",
      buckets: powersOfTwoUpTo(maxBatch),
      registers,
    });
    this.forwardSeconds = new Histogram({
      name: "divco_serve_forward_duration_seconds",
      help: "Time of one forward pass of a batch",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.queueDepth = new Gauge({
      name: "divco_serve_queue_depth",
      help: "Inference requests waiting for a batch",
      registers,
    });
    this.inFlight = new Gauge({
      name: "divco_serve_requests_in_flight",
      help: "Inference requests admitted and not yet answered (reading, decoding, queued or running)",
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: "divco_serve_" });
  }
}

/** 1, 2, 4, … up to and including n (n itself when it is no power of two). */
function powersOfTwoUpTo(n: number): number[] {
  const b: number[] = [];
  for (let v = 1; v < n; v *= 2) b.push(v);
  b.push(n);
  return b;
}
