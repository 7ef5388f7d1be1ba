// Messages between the main thread and member workers (member_pool.ts ↔ member_worker.ts).
// Tensors travel as process-wide handle numbers; the sender keeps ownership.

export interface WorkerSetup {
  arch: string;
  /** The registry's BuildOptions of the main thread's Members (plain data). */
  options: unknown;
  /** The members this worker runs, each as [state-dict key, handle] pairs. */
  members: { state: [string, number][] }[];
  /** Intra-op threads for this worker's kernels. */
  threads: number;
}

export type WorkerRequest =
  /**
   * Forward each of this worker's members on its input. `inference`: evaluation mode inside
   * libtorch's inference mode (no graph); otherwise with gradients, in training mode when
   * `training`, the graph kept for a backward.
   */
  | { type: "forward"; inputs: number[]; training: boolean; inference?: boolean }
  | { type: "backward"; grads: number[] }
  | { type: "release" }
  | { type: "close" };

export type WorkerReply =
  | { type: "ready" }
  | { type: "forward"; logits: number[] }
  | { type: "backward" }
  | { type: "release" }
  | { type: "close" }
  | { type: "error"; message: string };
