// Data-parallel gradients: a backward pass that runs on a native thread and, when asked, all-reduces
// (averages) the parameters' gradients over a process group while it runs. Buckets of ~1 MiB
// (the first) and ~25 MiB (the rest) — DDP's defaults — are launched as soon as their last
// gradient is accumulated, in reverse parameter order and the same order on every rank
// (native/src/dist.cc: Reducer), so communication overlaps the rest of the backward pass.
import type { Tensor } from "../tensor/tensor.js";
import { DistError } from "./env.js";
import type { ProcessGroup } from "./group.js";
import { distNative, type ReducerHandle } from "./native.js";

export interface ReducerOptions {
  /** Bytes of the first bucket (small, so the first all-reduce starts early). Default 1 MiB. */
  firstBucketBytes?: number;
  /** Bytes of the other buckets. Default 25 MiB. */
  bucketBytes?: number;
}

/** Backpropagates from `outputs` on a native thread (the JavaScript thread stays free). */
export async function backwardOffThread(
  outputs: Tensor[],
  grads?: (Tensor | null)[],
): Promise<void> {
  await distNative.distBackward(
    null,
    outputs.map((t) => t.handle),
    grads ? grads.map((g) => (g ? g.handle : null)) : null,
  );
}

export class GradReducer {
  private handle: ReducerHandle | null;

  private constructor(
    handle: ReducerHandle,
    readonly group: ProcessGroup,
    /** Number of buckets the parameters were divided into. */
    readonly buckets: number,
  ) {
    this.handle = handle;
  }

  /**
   * Hooks `params` (leaves that require grad, identical in order and shape on every rank of
   * `group`). A parameter that gets no gradient in a reduced backward counts as a zero gradient
   * and gets the average of the others' (DDP with find_unused_parameters does the same).
   */
  static create(group: ProcessGroup, params: Tensor[], o: ReducerOptions = {}): GradReducer {
    const { reducer, buckets } = distNative.distReducer(
      group.nativeHandle,
      params.map((p) => p.handle),
      o.firstBucketBytes ?? 1 << 20,
      o.bucketBytes ?? 25 << 20,
    );
    return new GradReducer(reducer, group, buckets);
  }

  /**
   * Backpropagates `loss`; with `reduce`, every hooked parameter's gradient is then the average
   * over the group (the accumulated gradient, when earlier backward passes ran without reduce:
   * gradient accumulation reduces once, at the step). Rejects with the failing rank named.
   */
  async backward(loss: Tensor, o: { reduce: boolean }): Promise<void> {
    if (!this.handle) throw new DistError("the gradient reducer was released");
    try {
      await distNative.distBackward(o.reduce ? this.handle : null, [loss.handle], null);
    } catch (e) {
      throw new DistError((e as Error).message);
    }
  }

  /** Unhooks the parameters. Idempotent. */
  release(): void {
    if (this.handle) distNative.distReleaseReducer(this.handle);
    this.handle = null;
  }
}
