// A persistent pool of worker threads that run a divided model's members at the same time.
// Members are independent until their outputs are combined, so on a CPU each can run on its
// own thread with its share of the cores (REFERENCE.md §5 runs them concurrently on GPUs; this
// is the CPU counterpart). Workers compute with the main thread's parameters and buffers
// (handles are process-wide; Module.shareState), so the pool holds no copy of the weights.
//
// Inference (engines.ts) and co-training (cotrain/concurrent.ts) both run on it: a forward
// returns each member's output as a borrowed tensor that stays valid until the next request;
// training then sends the loss gradients back for the members' backward passes.
import { Worker } from "node:worker_threads";
import type { Members } from "../models/members.js";
import { Tensor } from "../tensor/tensor.js";
import type { TensorHandle } from "../tensor/native.js";
import { defaultGeneratorState, setDefaultGeneratorState } from "../tensor/random.js";
import type { WorkerReply, WorkerRequest, WorkerSetup } from "./pool_protocol.js";

export interface MemberPoolOptions {
  /** Intra-op threads available in all. */
  threads: number;
  /** Worker threads; default min(members, threads). The k-th member runs on worker k mod workers. */
  workers?: number;
  /** The members (indices) the pool runs; default all. The others are the caller's to run. */
  members?: readonly number[];
}

interface Pending {
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
}

class MemberWorker {
  private readonly queue: Pending[] = [];
  private failure: Error | null = null;

  constructor(
    readonly worker: Worker,
    readonly index: number,
  ) {
    worker.on("message", (r: WorkerReply) => {
      const p = this.queue.shift();
      if (!p) return;
      if (r.type === "error") p.reject(new Error(`member worker ${index}: ${r.message}`));
      else p.resolve(r);
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.queue.splice(0)) p.reject(e);
    };
    worker.on("error", (e) => fail(new Error(`member worker ${index} crashed: ${e.message}`)));
    worker.on("exit", (code) => fail(new Error(`member worker ${index} exited (code ${code})`)));
  }

  /** Resolves with the worker's next reply (the first one is "ready"). */
  next(): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.queue.push({ resolve, reject }));
  }

  request(msg: WorkerRequest): Promise<WorkerReply> {
    const reply = this.next();
    if (!this.failure) this.worker.postMessage(msg);
    return reply;
  }
}

/** How a pool forward runs the members (see WorkerRequest). */
export type PoolForwardMode = "train" | "eval" | "inference";

export class MemberPool {
  private closed = false;

  private constructor(
    readonly members: Members,
    private readonly workers: MemberWorker[],
    /** The members the pool runs; outputs come in this order. */
    readonly indices: readonly number[],
    /** assignment[w] = the member indices worker w runs, in order. */
    readonly assignment: number[][],
    /** Intra-op threads of each worker. */
    readonly threadsPerWorker: number,
  ) {}

  get split(): number {
    return this.members.split;
  }

  /** Starts the workers; each rebinds its copy of its members to `members`' tensors. */
  static async start(members: Members, o: MemberPoolOptions): Promise<MemberPool> {
    const S = members.split;
    const indices = o.members ?? Array.from({ length: S }, (_, i) => i);
    if (indices.length === 0 || indices.some((i) => !Number.isInteger(i) || i < 0 || i >= S))
      throw new RangeError(
        `MemberPool: members must be indices of the ${S} members, got [${indices}]`,
      );
    const n = indices.length;
    const W = Math.max(1, Math.min(o.workers ?? Math.min(n, o.threads), n));
    const threadsEach = Math.max(1, Math.floor(o.threads / W));
    const assignment = Array.from({ length: W }, (_, w) => indices.filter((_, k) => k % W === w));
    const sd = members.stateDict();
    // Building a member initialises its weights from the default generator; the main thread's
    // random sequence must not depend on whether members run concurrently.
    const rng = defaultGeneratorState().keep();
    const url = new URL("./member_worker.js", import.meta.url);
    const workers = assignment.map((ids, w) => {
      const setup: WorkerSetup = {
        arch: members.arch,
        options: members.options,
        members: ids.map((i) => ({
          state: [...sd]
            .filter(([k]) => k.startsWith(`models.${i}.`))
            .map(([k, t]) => [k.slice(`models.${i}.`.length), t.handle as number]),
        })),
        threads: threadsEach,
      };
      return new MemberWorker(new Worker(url, { workerData: setup }), w);
    });
    try {
      await Promise.all(workers.map((w) => w.next()));
    } catch (e) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw e;
    } finally {
      setDefaultGeneratorState(rng);
      rng.dispose();
    }
    return new MemberPool(members, workers, indices, assignment, threadsEach);
  }

  /** Throws once the pool is closed. */
  assertOpen(): void {
    if (this.closed) throw new Error("MemberPool: already closed");
  }

  /**
   * Runs the pool's members' forward passes on their inputs (inputs[i] for member i; one tensor
   * = the same input for all). Returns their outputs in the order of `indices` (member order for
   * a pool of all members) as borrowed tensors, owned by the workers and valid until the pool's
   * next request: read or copy them before then (training: detach them and call `backward`, or
   * `release`). The requests are posted before this returns, so the caller can compute while
   * the workers do.
   */
  async forward(inputs: Tensor | Tensor[], mode: PoolForwardMode): Promise<Tensor[]> {
    this.assertOpen();
    const xs = Array.isArray(inputs) ? inputs : new Array<Tensor>(this.split).fill(inputs);
    if (xs.length !== this.split)
      throw new RangeError(`MemberPool: ${xs.length} inputs for ${this.split} members`);
    const replies = await Promise.all(
      this.workers.map((w, k) =>
        w.request({
          type: "forward",
          inputs: this.assignment[k].map((i) => xs[i].handle),
          training: mode === "train",
          ...(mode === "inference" ? { inference: true } : {}),
        }),
      ),
    );
    const byMember = new Map<number, Tensor>();
    replies.forEach((r, k) => {
      if (r.type !== "forward") throw new Error(`member worker ${k}: unexpected reply ${r.type}`);
      this.assignment[k].forEach((i, j) =>
        byMember.set(i, Tensor.borrow(r.logits[j] as TensorHandle)),
      );
    });
    return this.indices.map((i) => byMember.get(i)!);
  }

  /**
   * Backpropagates ∂loss/∂output_i (grads[i], indexed by member) through each of the pool's
   * members i, accumulating parameter gradients.
   */
  async backward(grads: Tensor[]): Promise<void> {
    this.assertOpen();
    const replies = await Promise.all(
      this.workers.map((w, k) =>
        w.request({ type: "backward", grads: this.assignment[k].map((i) => grads[i].handle) }),
      ),
    );
    replies.forEach((r, k) => {
      if (r.type !== "backward") throw new Error(`member worker ${k}: unexpected reply ${r.type}`);
    });
  }

  /** Drops the outputs (and graphs) of the last forward. */
  async release(): Promise<void> {
    if (this.closed) return;
    await Promise.all(
      this.workers.map((w) => w.request({ type: "release" }).catch(() => undefined)),
    );
  }

  /** Stops the workers after they have dropped their references. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.workers.map(async (w) => {
        await w.request({ type: "close" }).catch(() => undefined);
        await w.worker.terminate();
      }),
    );
  }
}
