// Produces one batch of S views into caller-provided buffers. The same code
// runs on the main thread (workers: 0) and inside worker threads, and every
// random draw comes from a stream keyed by (seed, epoch, dataset index, view)
// or (seed, epoch, batch index) — never from "how many draws happened
// before" — so the bytes do not depend on the number of workers or on which
// worker made which batch.
import { Rng } from "./prng.js";
import type { ImageDataset } from "./dataset.js";
import { MemoryDataset } from "./dataset.js";
import type { RgbImage } from "./image.js";
import { Augmenter } from "./transforms/pipeline.js";
import { applyMixup, sampleMixup, type MixupParams } from "./transforms/targets.js";
import type { CropConfig } from "./transforms/pipeline.js";

/** Stream domains, so shuffle / view / mixup streams never coincide. */
export const STREAM = { shuffle: 1, view: 2, mixup: 3 } as const;

/** A dataset that crops while decoding (image folders: resize before materialising full-size pixels). */
export interface CroppingDataset extends ImageDataset {
  loadCropped(index: number, crop: CropConfig, rng: Rng): Promise<RgbImage>;
}

function isCropping(ds: ImageDataset): ds is CroppingDataset {
  return typeof (ds as Partial<CroppingDataset>).loadCropped === "function";
}

export interface SlotBuffers {
  /** S arrays, each capacity·3·H·W floats. */
  views: Float32Array[];
  labels: Int32Array;
}

export interface FillSpec {
  seed: number;
  views: number;
  /** Mixup α, or 0/undefined for no mixup. */
  mixupAlpha?: number;
  /** The view index of slot view 0 (a member-parallel rank makes only its member's view). Default 0. */
  firstView?: number;
}

export class BatchFiller {
  readonly dataset: ImageDataset;
  readonly augmenter: Augmenter;
  readonly spec: FillSpec;
  private scratch: Uint8Array | null = null;

  constructor(dataset: ImageDataset, augmenter: Augmenter, spec: FillSpec) {
    this.dataset = dataset;
    this.augmenter = augmenter;
    this.spec = spec;
  }

  /** The per-view stream: (seed, epoch, dataset index, view). */
  viewRng(epoch: number, datasetIndex: number, view: number): Rng {
    return Rng.fromKeys(this.spec.seed, STREAM.view, epoch, datasetIndex, view);
  }

  /**
   * Fills `slot` with the samples `indices` (dataset indices, in batch order)
   * and returns the batch's mixup parameters when mixup is on.
   */
  async fill(
    epoch: number,
    batchIndex: number,
    indices: Int32Array,
    slot: SlotBuffers,
  ): Promise<MixupParams | undefined> {
    const n = indices.length;
    const ds = this.dataset;
    if (ds instanceof MemoryDataset) {
      const sampleFloats =
        3 * (this.augmenter.outputSize ?? ds.width) * (this.augmenter.outputSize ?? ds.height);
      this.scratch ??= new Uint8Array(ds.recordBytes);
      for (let k = 0; k < n; k++) {
        const idx = indices[k];
        slot.labels[k] = ds.labels[idx];
        for (let v = 0; v < this.spec.views; v++) {
          // Each view re-reads the source: transforms never modify their input, but crop may return it.
          const img = ds.getImage(idx, this.scratch);
          this.augmenter.run(
            img,
            slot.views[v],
            k * sampleFloats,
            this.viewRng(epoch, idx, (this.spec.firstView ?? 0) + v),
          );
        }
      }
    } else {
      await Promise.all(
        Array.from(indices, async (idx, k) => {
          slot.labels[k] = ds.labels[idx];
          for (let v = 0; v < this.spec.views; v++) {
            const rng = this.viewRng(epoch, idx, (this.spec.firstView ?? 0) + v);
            const img = isCropping(ds)
              ? await ds.loadCropped(idx, this.augmenter.config.crop, rng)
              : this.augmenter.cropInMemory(await ds.getImage(idx), rng);
            const floats = 3 * img.width * img.height;
            this.augmenter.finish(
              this.augmenter.pixelOps(img, rng),
              slot.views[v],
              k * floats,
              rng,
            );
          }
        }),
      );
    }
    if (this.spec.mixupAlpha && this.spec.mixupAlpha > 0) {
      const mix = sampleMixup(
        Rng.fromKeys(this.spec.seed, STREAM.mixup, epoch, batchIndex),
        n,
        this.spec.mixupAlpha,
      );
      const sampleFloats = slot.views[0].length / slot.labels.length;
      for (const view of slot.views)
        applyMixup(view.subarray(0, n * sampleFloats), sampleFloats, mix);
      return mix;
    }
    return undefined;
  }
}
