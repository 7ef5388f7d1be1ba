// Concurrent members: the S member networks are independent until the loss, so their forward
// and backward passes can run at the same time on different threads (REFERENCE.md §5 runs
// them concurrently on GPUs; this is the CPU counterpart). Each worker thread owns a share of
// the members, runs them with its own intra-op thread count, and computes on the main thread's
// tensors (handles are process-wide; the pool is infer/member_pool.ts, shared with concurrent
// inference). One step:
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
import type { Members } from "../models/members.js";
import { lookup, type BuildOptions } from "../models/registry.js";
import { randn } from "../tensor/creation.js";
import { noGrad } from "../tensor/autograd.js";
import type { Tensor } from "../tensor/tensor.js";
import { defaultGeneratorState, setDefaultGeneratorState } from "../tensor/random.js";
import { scope } from "../tensor/scope.js";
import { MemberPool, type MemberPoolOptions } from "../infer/member_pool.js";

/** Threads in all (the trainer's `threads`) and worker threads (default min(S, threads)). */
export type ConcurrentOptions = MemberPoolOptions;

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

/**
 * The members' forward and backward passes on a pool of worker threads (infer/member_pool.ts)
 * that compute with the main thread's parameters, refusing members whose forward draws random
 * numbers (their order between threads would make the run irreproducible).
 */
export class ConcurrentMembers {
  private rngBefore = "";

  private constructor(private readonly pool: MemberPool) {}

  get members(): Members {
    return this.pool.members;
  }

  get split(): number {
    return this.pool.split;
  }

  /** assignment[w] = the member indices worker w runs, in order. */
  get assignment(): number[][] {
    return this.pool.assignment;
  }

  /** Starts the workers; each rebinds its copy of its members to `members`' tensors. */
  static async start(members: Members, o: ConcurrentOptions): Promise<ConcurrentMembers> {
    return new ConcurrentMembers(await MemberPool.start(members, o));
  }

  /**
   * Runs every member's forward with gradients on its own input (inputs[i] for member i).
   * Returns each member's logits as borrowed tensors (owned by the workers): detach them
   * before use and call `backward` (or `release`) before the next forward.
   */
  async forward(inputs: Tensor[], training = true): Promise<Tensor[]> {
    this.pool.assertOpen();
    if (inputs.length !== this.split)
      throw new RangeError(`ConcurrentMembers: ${inputs.length} inputs for ${this.split} members`);
    this.rngBefore = rngFingerprint();
    return this.pool.forward(inputs, training ? "train" : "eval");
  }

  /** Backpropagates ∂loss/∂logits_i (grads[i]) through member i, accumulating parameter gradients. */
  async backward(grads: Tensor[]): Promise<void> {
    await this.pool.backward(grads);
    // Random draws in a member's forward (dropout, Shake-Shake, ShakeDrop, drop-connect) come
    // from the shared default generator in whatever order the threads reach it, so the run
    // would not be reproducible; refuse rather than train irreproducibly.
    if (rngFingerprint() !== this.rngBefore) {
      throw new Error(randomDrawsMessage(this.members.arch));
    }
  }

  /** Drops the graphs of the last forward without a backward (after an error). */
  release(): Promise<void> {
    return this.pool.release();
  }

  /** Stops the workers after they have dropped their references. Idempotent. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
