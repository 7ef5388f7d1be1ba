// Dynamic batching: requests that arrive close together run as one forward pass. A batch per
// image costs far less than one forward per request once the model is busy (a convolution over
// 32 images keeps the cores busier than 32 convolutions over one), while an idle server should
// answer a lone request at once. So a batch runs as soon as `maxBatch` images are waiting, or
// when the oldest waiting request has waited `maxWaitMs` — or, when the server says how many
// admitted requests are still on their way (being received or decoded: `arriving`), as soon as
// none is, since waiting longer could only gain requests not yet sent. One batch runs at a time
// (the predictor is not re-entrant: its execution modes own their threads), and what arrives
// meanwhile forms the next batch. The forward pass holds the JavaScript thread, so requests
// sent during it are read only after it: they arrive together, and the `arriving` rule batches
// them without a fixed delay, while a lone request at low load runs at once.
//
// A request (a job) brings n ≤ maxBatch images and is never split across batches, so a batch
// holds at most maxBatch images. Each job has a deadline (`timeoutMs`): a job still waiting
// then leaves the queue; one whose batch is running is answered with the timeout and its rows
// of the result are dropped. A job whose client went away (its AbortSignal) leaves the queue.
// How many jobs may wait is bounded by the server's admission control (server.ts), not here.
import { timedOut } from "./errors.js";

/** A forward pass's outputs for n images of C classes, row-major. */
export interface BatchOutputs {
  n: number;
  numClasses: number;
  /** The ensemble's class probabilities, n×C. */
  probabilities: Float32Array;
  /** The ensemble's scores by its rule (mean_logits: the mean logits), n×C. */
  scores: Float32Array;
  /** Each member's logits, n×C each. */
  members: Float32Array[];
}

/** Runs the model on n images (rows of a flat n×3×H×W array). */
export type Forward = (images: Float32Array, n: number) => Promise<BatchOutputs>;

export interface BatcherOptions {
  /** The most images in one forward pass. */
  maxBatch: number;
  /** How long the oldest waiting request may wait for others to join its batch. */
  maxWaitMs: number;
  /** A request's deadline from submission to result. */
  timeoutMs: number;
  /** Told the size of each batch when it starts, and how long it took when done. */
  onBatch?: (images: number) => void;
  onBatchDone?: (images: number, seconds: number) => void;
  /** Told the number of waiting requests whenever it changes. */
  onQueueDepth?: (jobs: number) => void;
  /**
   * How many admitted requests will submit soon (still being received or decoded). When given,
   * a batch also runs once this is 0; call poke() when it drops without a submit.
   */
  arriving?: () => number;
}

interface Job {
  rows: Float32Array;
  n: number;
  enqueuedAt: number;
  resolve: (out: BatchOutputs) => void;
  reject: (e: Error) => void;
  /** Answered (result, error, timeout or abort): later outcomes are dropped. */
  settled: boolean;
  deadline: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
}

/** The rows [start, start + n) of a batch's outputs (views, no copies). */
export function sliceOutputs(out: BatchOutputs, start: number, n: number): BatchOutputs {
  const c = out.numClasses;
  const rows = (a: Float32Array) => a.subarray(start * c, (start + n) * c);
  return {
    n,
    numClasses: c,
    probabilities: rows(out.probabilities),
    scores: rows(out.scores),
    members: out.members.map(rows),
  };
}

export class Batcher {
  private readonly queue: Job[] = [];
  private running = false;
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Recent seconds per batch (exponential average), for Retry-After estimates. */
  private batchSeconds = 0;

  constructor(
    private readonly forward: Forward,
    private readonly o: BatcherOptions,
  ) {
    if (!(Number.isInteger(o.maxBatch) && o.maxBatch >= 1))
      throw new RangeError(`Batcher: maxBatch must be a positive integer, got ${o.maxBatch}`);
    if (!(o.maxWaitMs >= 0)) throw new RangeError(`Batcher: maxWaitMs must be ≥ 0`);
    if (!(o.timeoutMs > 0)) throw new RangeError(`Batcher: timeoutMs must be > 0`);
  }

  /** Requests waiting for a batch (not counting the one running). */
  get depth(): number {
    return this.queue.length;
  }

  /** Images waiting for a batch. */
  get queuedImages(): number {
    return this.queue.reduce((s, j) => s + j.n, 0);
  }

  /** Seconds until `jobs` requests ahead would have run, by the recent batch time (≥ 1 s). */
  retryAfterSeconds(jobs: number): number {
    const batches = Math.ceil(Math.max(jobs, 1) / this.o.maxBatch) + 1;
    return Math.max(1, Math.ceil(batches * this.batchSeconds));
  }

  /**
   * Queues n images (a flat n×3×H×W array) and resolves with the outputs of these rows once
   * their batch has run. Rejects with a 504 ServeError past the deadline, with the signal's
   * reason when the client went away first, or with the forward pass's error.
   */
  submit(rows: Float32Array, n: number, signal?: AbortSignal): Promise<BatchOutputs> {
    if (!(Number.isInteger(n) && n >= 1 && n <= this.o.maxBatch))
      throw new RangeError(`Batcher: a request brings 1..${this.o.maxBatch} images, got ${n}`);
    return new Promise<BatchOutputs>((resolve, reject) => {
      const job: Job = {
        rows,
        n,
        enqueuedAt: performance.now(),
        resolve,
        reject,
        settled: false,
        deadline: setTimeout(() => {
          this.settle(
            job,
            timedOut(
              `no result within ${this.o.timeoutMs} ms (the per-request timeout, --timeout-ms); the server is busy, retry later`,
            ),
          );
        }, this.o.timeoutMs),
      };
      if (signal) {
        if (signal.aborted) {
          clearTimeout(job.deadline);
          reject(signal.reason as Error);
          return;
        }
        job.signal = signal;
        job.onAbort = () => this.settle(job, signal.reason as Error);
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.o.onQueueDepth?.(this.queue.length);
      this.schedule();
    });
  }

  /**
   * From now on runs what is queued without waiting for batches to fill, and resolves once
   * nothing is queued or running. For shutdown: what is in flight finishes (and what is still
   * being read or decoded is taken when it comes; the HTTP server admits nothing new).
   */
  drain(): Promise<void> {
    this.flushing = true;
    this.schedule();
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Re-checks whether a batch is due (the server's `arriving` count dropped). */
  poke(): void {
    this.schedule();
  }

  /** Answers a job once: an error, or (out given) its outputs; a waiting job leaves the queue. */
  private settle(job: Job, error: Error | null, out?: BatchOutputs): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.deadline);
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    const i = this.queue.indexOf(job);
    if (i >= 0) {
      this.queue.splice(i, 1);
      this.o.onQueueDepth?.(this.queue.length);
      this.notifyIdle();
    }
    if (error) job.reject(error);
    else job.resolve(out!);
  }

  /** Starts a batch if one is due, else arms the timer for when the oldest job's wait ends. */
  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const waited = performance.now() - this.queue[0].enqueuedAt;
    if (this.flushing || this.queuedImages >= this.o.maxBatch || waited >= this.o.maxWaitMs) {
      this.start();
      return;
    }
    // Nothing more on its way: run once the I/O already read in this turn of the event loop
    // has been admitted (setImmediate runs after it), unless something arrived meanwhile.
    if (this.o.arriving?.() === 0)
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        if (this.running || this.queue.length === 0) return;
        if (this.o.arriving?.() === 0) this.start();
        else this.schedule();
      });
    // A timer armed for a job that has since left the queue fires early: schedule() re-checks.
    this.timer ??= setTimeout(
      () => {
        this.timer = null;
        this.schedule();
      },
      Math.ceil(this.o.maxWaitMs - waited),
    );
  }

  /** Runs a batch now, disarming what waited to. */
  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    void this.runBatch();
  }

  private async runBatch(): Promise<void> {
    this.running = true;
    const jobs: Job[] = [];
    let images = 0;
    // First come, first served; a job that does not fit waits for the next batch.
    while (this.queue.length && images + this.queue[0].n <= this.o.maxBatch) {
      const job = this.queue.shift()!;
      jobs.push(job);
      images += job.n;
    }
    this.o.onQueueDepth?.(this.queue.length);
    const sample = jobs[0].rows.length / jobs[0].n;
    const x = new Float32Array(images * sample);
    let at = 0;
    for (const j of jobs) {
      x.set(j.rows, at * sample);
      at += j.n;
    }
    this.o.onBatch?.(images);
    const t0 = performance.now();
    try {
      const out = await this.forward(x, images);
      let start = 0;
      for (const j of jobs) {
        this.settle(j, null, sliceOutputs(out, start, j.n));
        start += j.n;
      }
    } catch (e) {
      for (const j of jobs) this.settle(j, e as Error);
    } finally {
      const seconds = (performance.now() - t0) / 1000;
      this.batchSeconds = this.batchSeconds ? 0.8 * this.batchSeconds + 0.2 * seconds : seconds;
      this.o.onBatchDone?.(images, seconds);
      this.running = false;
      this.schedule();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.running || this.queue.length || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
