// Worker-thread entry of MultiViewLoader: reopens the dataset from its
// shared-memory description, rebuilds the augmentation pipeline, and fills
// the requested shared slots. Holds no state that affects the output beyond
// the init message, so results do not depend on which worker runs a batch.
import { parentPort, workerData } from "node:worker_threads";
import { MemoryDataset, type ImageDataset, type DatasetSource } from "./dataset.js";
import { DataError } from "./errors.js";
import { BadImageError } from "./decode.js";
import { Augmenter } from "./transforms/pipeline.js";
import { BatchFiller } from "./batch_fill.js";
import type { WorkerInit, WorkerRequest, WorkerReply } from "./worker_protocol.js";

async function openSource(src: DatasetSource): Promise<ImageDataset> {
  if (src.kind === "memory") return new MemoryDataset(src);
  const { ImageFolderDataset } = await import("./imagefolder.js");
  return ImageFolderDataset.fromSource(src);
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const port = parentPort;
  if (!port) throw new Error("worker.ts must run as a worker thread");
  const dataset = await openSource(init.source);
  const filler = new BatchFiller(dataset, new Augmenter(init.augment), {
    seed: init.seed,
    views: init.views,
    mixupAlpha: init.mixupAlpha,
    onBadImage: init.onBadImage,
    firstView: init.firstView,
  });
  // Serialise requests: one batch at a time per worker keeps memory bounded and output order irrelevant.
  let queue = Promise.resolve();
  port.on("message", (req: WorkerRequest) => {
    queue = queue.then(async () => {
      let reply: WorkerReply;
      try {
        const r = await filler.fill(req.epoch, req.batchIndex, req.indices, init.slots[req.slot]);
        reply = { id: req.id, images: r.images, mixup: r.mixup, skipped: r.skipped };
      } catch (e) {
        const err = e as Error;
        reply = {
          id: req.id,
          error: err.message,
          errorCode: e instanceof DataError ? e.code : undefined,
          badImage:
            e instanceof BadImageError
              ? { file: e.file, kind: e.kind, reason: e.reason }
              : undefined,
        };
      }
      port.postMessage(reply);
    });
  });
}

main().catch((e: unknown) => {
  // Surfaces as the Worker's "error" event in the loader.
  throw e instanceof Error ? e : new Error(String(e));
});
