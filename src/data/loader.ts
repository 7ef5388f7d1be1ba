// Multi-view data loader (REFERENCE.md §3.1): each batch holds S independently
// augmented views of the same N images (S = 1 for evaluation), normalised
// float32 NCHW, plus labels and — when mixup is on — the single λ and
// permutation that all views share.
//
// Determinism: the epoch order comes from (seed, epoch), every view from
// (seed, epoch, dataset index, view), mixup from (seed, epoch, batch index);
// so any number of workers (0 = main thread) yields identical bytes, and
// iteration can resume mid-epoch from {epoch, batchIndex}.
//
// Distributed training: `shard` makes the loader yield one rank's part of every batch of the
// global batch order (global batch semantics: `batchSize` is the whole batch, each of `count`
// shards gets a contiguous 1/count of it), and `firstView` lets a member-parallel rank produce
// only its own member's view. Views are keyed by dataset index, so a shard's views are
// bit-identical to the same images' views in a single process.
//
// Prefetch: worker threads write batches straight into SharedArrayBuffer
// slots; the main thread only passes slot numbers around. A yielded batch's
// arrays are views of its slot and stay valid until the iterator is advanced
// (call `copyBatch` to keep one). At most `prefetch` batches are in flight.
// Idle workers are unref'd, so a loader that is never closed does not keep
// the process alive; `close()` terminates them.
//
// Bad image files (image folders only; in-memory records always decode): by default a file
// that cannot be decoded fails the epoch with a BadImageError naming it; with onBadImage
// "skip" the image is left out of its batch, which is then shorter, and the batch lists it.
import { Worker } from "node:worker_threads";
import { Rng } from "./prng.js";
import type { ImageDataset } from "./dataset.js";
import { MemoryDataset } from "./dataset.js";
import { DataError } from "./errors.js";
import { Augmenter, type AugmentConfig } from "./transforms/pipeline.js";
import type { MixupParams } from "./transforms/targets.js";
import { BatchFiller, STREAM, type FillResult, type SlotBuffers } from "./batch_fill.js";
import { BadImageError } from "./decode.js";
import type { BadImage } from "./image_check.js";
import type { WorkerInit, WorkerRequest, WorkerReply } from "./worker_protocol.js";

export interface LoaderOptions {
  dataset: ImageDataset;
  augment: AugmentConfig;
  batchSize: number;
  /** Number of views S per image (members of the split network). Default 1. */
  views?: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Drop the last incomplete batch (default = shuffle, like the reference's train loader). */
  dropLast?: boolean;
  seed: number;
  /** Worker threads; 0 computes batches on the calling thread. Default 0. */
  workers?: number;
  /** Batches computed ahead (default 2 per worker, at least 2). */
  prefetch?: number;
  /**
   * Mixup Beta(α, α); applied in place to every view with one shared λ/permutation. A sharded
   * loader mixes within its shard (as the reference's DistributedDataParallel does per GPU), with
   * the λ of the whole batch.
   */
  mixupAlpha?: number;
  /** An image file that cannot be decoded: fail (default) or leave it out of its batch. */
  onBadImage?: "skip" | "fail";
  /** Yield shard `index` of `count` of every batch (data-parallel rank `index`). */
  shard?: { index: number; count: number };
  /** The view index of this loader's first view (a member-parallel rank's member). Default 0. */
  firstView?: number;
}

export interface Batch {
  /** S arrays, each N·3·H·W normalised floats (NCHW). */
  views: Float32Array[];
  labels: Int32Array;
  mixup?: MixupParams;
  /** Batch index within its epoch. */
  index: number;
  epoch: number;
  /** N, C, H, W of each view. */
  shape: [number, number, number, number];
  /** Image files left out of this batch (onBadImage "skip"); absent when none were. */
  skipped?: readonly BadImage[];
}

/** Where to continue: the next batch to produce. */
export interface LoaderPosition {
  epoch: number;
  batchIndex: number;
}

interface Slot extends SlotBuffers {
  id: number;
}

interface PendingTask {
  resolve: (result: FillResult) => void;
  reject: (e: Error) => void;
}

export class MultiViewLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly views: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly numWorkers: number;
  readonly prefetch: number;
  readonly imageSize: { height: number; width: number };
  readonly shard: { index: number; count: number } | null;
  readonly firstView: number;
  private readonly augment: AugmentConfig;
  private readonly mixupAlpha: number;
  private readonly onBadImage: "skip" | "fail";
  private readonly filler: BatchFiller;
  private readonly slots: Slot[];
  private workers: Worker[] = [];
  private workerLoad: number[] = [];
  private readonly pending = new Map<number, PendingTask>();
  private nextTaskId = 0;
  private iterating = false;
  private closed = false;

  constructor(opts: LoaderOptions) {
    const bad = (msg: string) => new DataError("argument", `loader: ${msg}`);
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0))
      throw bad(`batchSize must be a positive integer, got ${opts.batchSize}`);
    this.views = opts.views ?? 1;
    if (!(Number.isInteger(this.views) && this.views >= 1))
      throw bad(`views must be a positive integer, got ${this.views}`);
    if (!Number.isSafeInteger(opts.seed) || opts.seed < 0)
      throw bad(`seed must be a non-negative integer, got ${opts.seed}`);
    this.numWorkers = opts.workers ?? 0;
    if (!(Number.isInteger(this.numWorkers) && this.numWorkers >= 0))
      throw bad(`workers must be a non-negative integer`);
    this.dataset = opts.dataset;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? this.shuffle;
    this.seed = opts.seed;
    this.mixupAlpha = opts.mixupAlpha ?? 0;
    if (!(this.mixupAlpha >= 0)) throw bad(`mixupAlpha must be ≥ 0`);
    this.onBadImage = opts.onBadImage ?? "fail";
    if (this.onBadImage !== "skip" && this.onBadImage !== "fail")
      throw bad(`onBadImage must be "skip" or "fail", got ${String(opts.onBadImage)}`);
    this.prefetch = Math.max(1, opts.prefetch ?? Math.max(2, 2 * this.numWorkers));
    this.shard = opts.shard ?? null;
    if (this.shard) {
      const { index, count } = this.shard;
      if (!(
        Number.isInteger(count) &&
        count >= 1 &&
        Number.isInteger(index) &&
        index >= 0 &&
        index < count
      ))
        throw bad(
          `shard must be {index, count} with 0 ≤ index < count, got ${JSON.stringify(this.shard)}`,
        );
      if (this.dropLast && this.batchSize % count !== 0)
        throw bad(
          `batch size ${this.batchSize} does not divide into ${count} equal shards (one per data-parallel rank); choose a batch size that is a multiple of ${count}`,
        );
    }
    this.firstView = opts.firstView ?? 0;
    if (!(Number.isInteger(this.firstView) && this.firstView >= 0))
      throw bad(`firstView must be a non-negative integer, got ${this.firstView}`);
    this.augment = opts.augment;
    const augmenter = new Augmenter(opts.augment);
    const size = augmenter.outputSize;
    if (size === null && !(this.dataset instanceof MemoryDataset)) {
      throw bad(`crop "none" needs fixed-size images; give image-folder datasets a crop size`);
    }
    const ds = this.dataset as MemoryDataset;
    this.imageSize = { height: size ?? ds.height, width: size ?? ds.width };
    if (this.batchesPerEpoch() === 0)
      throw bad(
        `dataset ${this.dataset.name} has ${this.dataset.size} images, fewer than one batch of ${this.batchSize}`,
      );
    this.filler = new BatchFiller(this.dataset, augmenter, {
      seed: this.seed,
      views: this.views,
      mixupAlpha: this.mixupAlpha,
      onBadImage: this.onBadImage,
      firstView: this.firstView,
    });
    const floats = this.capacity * 3 * this.imageSize.height * this.imageSize.width;
    const nSlots = this.numWorkers === 0 ? 1 : this.prefetch + 1; // +1: the batch the consumer holds
    this.slots = Array.from({ length: nSlots }, (_, id) => ({
      id,
      views: Array.from(
        { length: this.views },
        () => new Float32Array(new SharedArrayBuffer(floats * 4)),
      ),
      labels: new Int32Array(new SharedArrayBuffer(this.capacity * 4)),
    }));
  }

  /** Most images one yielded batch holds: the batch size, or the largest shard of it. */
  get capacity(): number {
    return this.shard ? Math.ceil(this.batchSize / this.shard.count) : this.batchSize;
  }

  batchesPerEpoch(): number {
    const n = this.dataset.size;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Dataset indices in epoch order: a permutation keyed by (seed, epoch), or 0..n−1. */
  epochOrder(epoch: number): Int32Array {
    const n = this.dataset.size;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return Rng.fromKeys(this.seed, STREAM.shuffle, epoch).permutation(n);
  }

  /**
   * Iterates one epoch from `start.batchIndex` (default 0). Only one iteration
   * may be active at a time; breaking out early is fine.
   */
  async *epoch(
    epoch: number,
    start: Partial<LoaderPosition> = {},
  ): AsyncGenerator<Batch, void, undefined> {
    if (this.closed) throw new DataError("argument", "loader is closed");
    if (this.iterating)
      throw new DataError("argument", "loader: another epoch iteration is still active");
    if (!(Number.isInteger(epoch) && epoch >= 0))
      throw new DataError("argument", `epoch must be a non-negative integer, got ${epoch}`);
    const first = start.batchIndex ?? 0;
    const total = this.batchesPerEpoch();
    if (!(Number.isInteger(first) && first >= 0 && first <= total)) {
      throw new DataError(
        "argument",
        `resume batchIndex ${first} outside 0..${total} for epoch ${epoch}`,
      );
    }
    this.iterating = true;
    const order = this.epochOrder(epoch);
    const indicesOf = (b: number) => {
      const lo = b * this.batchSize;
      const hi = Math.min((b + 1) * this.batchSize, order.length);
      if (!this.shard) return order.slice(lo, hi);
      // Contiguous, near-equal parts; equal when the batch divides (always, for training).
      const { index, count } = this.shard;
      const n = hi - lo;
      return order.slice(
        lo + Math.floor((index * n) / count),
        lo + Math.floor(((index + 1) * n) / count),
      );
    };
    try {
      if (this.numWorkers === 0) {
        const slot = this.slots[0];
        for (let b = first; b < total; b++) {
          const idx = indicesOf(b);
          if (idx.length === 0) continue; // a shard of the last, short evaluation batch can be empty
          const filled = await this.filler.fill(epoch, b, idx, slot);
          yield this.makeBatch(slot, b, epoch, filled);
        }
        return;
      }
      this.startWorkers();
      const free = [...this.slots];
      const inflight: { b: number; n: number; slot: Slot; done: Promise<FillResult> }[] = [];
      let nextToSchedule = first;
      const schedule = () => {
        while (inflight.length < this.prefetch && free.length > 0 && nextToSchedule < total) {
          const b = nextToSchedule++;
          const slot = free.shift() as Slot;
          const idx = indicesOf(b);
          const done = this.dispatch(epoch, b, idx, slot);
          done.catch(() => undefined); // rejections surface when awaited in order, not as unhandled ones
          inflight.push({ b, n: idx.length, slot, done });
        }
      };
      let held: Slot | null = null;
      try {
        for (let b = first; b < total; b++) {
          if (held) free.push(held); // the consumer asked for the next batch: its previous slot is free again
          held = null;
          schedule();
          const task = inflight.shift();
          if (!task || task.b !== b) throw new Error(`loader internal error: expected batch ${b}`);
          const filled = await task.done;
          held = task.slot;
          schedule();
          if (task.n === 0) continue; // an empty shard (see above)
          yield this.makeBatch(task.slot, b, epoch, filled);
        }
      } finally {
        // Early exit or error: let in-flight work land before the slots are reused.
        await Promise.allSettled(inflight.map((t) => t.done));
      }
    } finally {
      this.iterating = false;
      this.updateRefs();
    }
  }

  private makeBatch(slot: Slot, index: number, epoch: number, filled: FillResult): Batch {
    const { images: n, mixup, skipped } = filled;
    const { height: h, width: w } = this.imageSize;
    const floats = n * 3 * h * w;
    const batch: Batch = {
      views: slot.views.map((v) => (n === this.capacity ? v : v.subarray(0, floats))),
      labels: n === this.capacity ? slot.labels : slot.labels.subarray(0, n),
      index,
      epoch,
      shape: [n, 3, h, w],
    };
    if (mixup) batch.mixup = mixup;
    if (skipped.length) batch.skipped = skipped;
    return batch;
  }

  private startWorkers(): void {
    if (this.workers.length > 0) return;
    const init: WorkerInit = {
      source: this.dataset.source(),
      augment: this.augment,
      seed: this.seed,
      views: this.views,
      mixupAlpha: this.mixupAlpha,
      onBadImage: this.onBadImage,
      firstView: this.firstView,
      slots: this.slots.map((s) => ({ views: s.views, labels: s.labels })),
    };
    for (let i = 0; i < this.numWorkers; i++) {
      const worker = new Worker(new URL("./worker.js", import.meta.url), {
        workerData: init,
        // Flags such as --input-type are valid for the main script only and make a worker fail to start.
        execArgv: process.execArgv.filter((a) => !a.startsWith("--input-type")),
      });
      worker.on("message", (msg: WorkerReply) => this.onReply(i, msg));
      worker.on("error", (err) =>
        this.failAll(new Error(`data worker ${i} crashed: ${err.message}`)),
      );
      worker.on("exit", (code) => {
        if (!this.closed && code !== 0)
          this.failAll(new Error(`data worker ${i} exited with code ${code}`));
      });
      this.workers.push(worker);
      this.workerLoad.push(0);
    }
  }

  private dispatch(
    epoch: number,
    batchIndex: number,
    indices: Int32Array,
    slot: Slot,
  ): Promise<FillResult> {
    const id = this.nextTaskId++;
    let w = 0;
    for (let i = 1; i < this.workers.length; i++)
      if (this.workerLoad[i] < this.workerLoad[w]) w = i;
    this.workerLoad[w]++;
    const req: WorkerRequest = { id, epoch, batchIndex, indices, slot: slot.id };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.updateRefs();
      this.workers[w].postMessage(req);
    });
  }

  private onReply(worker: number, msg: WorkerReply): void {
    this.workerLoad[worker]--;
    const task = this.pending.get(msg.id);
    if (!task) return;
    this.pending.delete(msg.id);
    this.updateRefs();
    if (msg.error !== undefined) {
      const b = msg.badImage;
      task.reject(
        b
          ? new BadImageError(b.file, b.kind, b.reason)
          : msg.errorCode
            ? new DataError(msg.errorCode, msg.error)
            : new Error(msg.error),
      );
    } else {
      const mixup = msg.mixup ? { lambda: msg.mixup.lambda, perm: msg.mixup.perm } : undefined;
      task.resolve({ images: msg.images ?? 0, mixup, skipped: msg.skipped ?? [] });
    }
  }

  private failAll(err: Error): void {
    for (const [id, t] of this.pending) {
      this.pending.delete(id);
      t.reject(err);
    }
    this.updateRefs();
  }

  /** Workers keep the process alive only while they have work. */
  private updateRefs(): void {
    const busy = this.pending.size > 0;
    for (const w of this.workers) {
      if (busy) w.ref();
      else w.unref();
    }
  }

  /** Terminates the workers. Safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers;
    this.workers = [];
    this.failAll(new DataError("argument", "loader closed"));
    await Promise.all(ws.map((w) => w.terminate()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A copy of `batch` that stays valid after the iterator advances. */
export function copyBatch(batch: Batch): Batch {
  return {
    ...batch,
    views: batch.views.map((v) => v.slice()),
    labels: batch.labels.slice(),
    mixup: batch.mixup ? { lambda: batch.mixup.lambda, perm: batch.mixup.perm.slice() } : undefined,
    skipped: batch.skipped ? [...batch.skipped] : undefined,
  };
}
