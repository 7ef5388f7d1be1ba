// Concurrent members: the S member networks are independent until the loss, so their forward
// and backward passes can run at the same time on different threads (REFERENCE.md §5 runs
// them concurrently on GPUs; this is the CPU counterpart). Each worker thread owns a share of
// the members, runs them with its own intra-op thread count, and computes on the main thread's
// tensors (handles are process-wide). One step:
//
//   main: views → workers   workers: forward(member i, view i) → logits handles
//   main: z_i = detach(logits_i) with requires_grad; loss(z); backward → ∂loss/∂z_i
//   main: ∂loss/∂z_i → workers   workers: logits_i.backward(∂loss/∂z_i) (parameter grads)
//   main: optimiser step
//
// Gradients are the same as the sequential step's: ∂loss/∂z is exact, and each member's
// backward is the same chain of kernels. Only the intra-op thread count per kernel differs,
// which can change float reductions in the last bits; with one thread everywhere the two
// paths agree bit for bit (test/cotrain/concurrent.test.ts).
import { Worker } from "node:worker_threads";
import type { Members } from "../models/members.js";
import { lookup, type BuildOptions } from "../models/registry.js";
import { randn } from "../tensor/creation.js";
import { noGrad } from "../tensor/autograd.js";
import { Tensor } from "../tensor/tensor.js";
import type { TensorHandle } from "../tensor/native.js";
import { defaultGeneratorState, setDefaultGeneratorState } from "../tensor/random.js";
import { scope } from "../tensor/scope.js";
import type { WorkerReply, WorkerRequest, WorkerSetup } from "./concurrent_protocol.js";

export interface ConcurrentOptions {
  /** Intra-op threads available in all (the trainer's `threads`). */
  threads: number;
  /** Worker threads; default min(S, threads). Member i runs on worker i mod workers. */
  workers?: number;
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

/** A default-generator fingerprint: its state bytes. */
function rngFingerprint(): string {
  return scope(() => Buffer.from(defaultGeneratorState().toTypedArray().buffer).toString("base64"));
}

/** Why an architecture with random draws in its forward cannot have concurrent members. */
export function randomDrawsMessage(arch: string): string {
  return (
    `concurrent members: ${arch} draws random numbers in its forward pass (dropout, DropBlock, Shake-Shake, ShakeDrop or drop-connect); ` +
    "their order between threads is not deterministic, so the run could not be reproduced or resumed bit-exactly. Train it without concurrent members (--concurrent-members)."
  );
}

/**
 * Whether a member of `arch` draws from the default generator in a training-mode forward
 * (dropout, DropBlock, Shake-Shake, ShakeDrop, drop-connect): probed on a throw-away member and a
 * two-image batch, restoring the generator afterwards. Such members cannot run concurrently
 * and reproducibly, so the trainer refuses the combination before creating the run directory.
 */
export function drawsRandomInForward(arch: string, options: BuildOptions): boolean {
  const saved = defaultGeneratorState().keep();
  try {
    return scope(() => {
      const net = lookup(arch).member(options);
      try {
        net.train();
        const x = randn([2, 3, options.crop, options.crop]);
        const before = rngFingerprint();
        noGrad(() => net.forward(x));
        return rngFingerprint() !== before;
      } finally {
        net.dispose();
      }
    });
  } finally {
    setDefaultGeneratorState(saved);
    saved.dispose();
  }
}

export class ConcurrentMembers {
  private closed = false;
  private rngBefore = "";

  private constructor(
    readonly members: Members,
    private readonly workers: MemberWorker[],
    /** assignment[w] = the member indices worker w runs, in order. */
    readonly assignment: number[][],
  ) {}

  get split(): number {
    return this.members.split;
  }

  /** Starts the workers; each rebinds its copy of its members to `members`' tensors. */
  static async start(members: Members, o: ConcurrentOptions): Promise<ConcurrentMembers> {
    const S = members.split;
    const W = Math.max(1, Math.min(o.workers ?? Math.min(S, o.threads), S));
    const threadsEach = Math.max(1, Math.floor(o.threads / W));
    const assignment = Array.from({ length: W }, (_, w) =>
      Array.from({ length: S }, (_, i) => i).filter((i) => i % W === w),
    );
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
    return new ConcurrentMembers(members, workers, assignment);
  }

  private check(): void {
    if (this.closed) throw new Error("ConcurrentMembers: already closed");
  }

  /**
   * Runs every member's forward with gradients on its own input (inputs[i] for member i).
   * Returns each member's logits as borrowed tensors (owned by the workers): detach them
   * before use and call `backward` (or `release`) before the next forward.
   */
  async forward(inputs: Tensor[], training = true): Promise<Tensor[]> {
    this.check();
    if (inputs.length !== this.split)
      throw new RangeError(`ConcurrentMembers: ${inputs.length} inputs for ${this.split} members`);
    this.rngBefore = rngFingerprint();
    const replies = await Promise.all(
      this.workers.map((w, k) =>
        w.request({
          type: "forward",
          inputs: this.assignment[k].map((i) => inputs[i].handle),
          training,
        }),
      ),
    );
    const out = new Array<Tensor>(this.split);
    replies.forEach((r, k) => {
      if (r.type !== "forward") throw new Error(`member worker ${k}: unexpected reply ${r.type}`);
      this.assignment[k].forEach((i, j) => (out[i] = Tensor.borrow(r.logits[j] as TensorHandle)));
    });
    return out;
  }

  /** Backpropagates ∂loss/∂logits_i (grads[i]) through member i, accumulating parameter gradients. */
  async backward(grads: Tensor[]): Promise<void> {
    this.check();
    const replies = await Promise.all(
      this.workers.map((w, k) =>
        w.request({ type: "backward", grads: this.assignment[k].map((i) => grads[i].handle) }),
      ),
    );
    replies.forEach((r, k) => {
      if (r.type !== "backward") throw new Error(`member worker ${k}: unexpected reply ${r.type}`);
    });
    // Random draws in a member's forward (dropout, Shake-Shake, ShakeDrop, drop-connect) come
    // from the shared default generator in whatever order the threads reach it, so the run
    // would not be reproducible; refuse rather than train irreproducibly.
    if (rngFingerprint() !== this.rngBefore) {
      throw new Error(randomDrawsMessage(this.members.arch));
    }
  }

  /** Drops the graphs of the last forward without a backward (after an error). */
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
