// Produces one batch of S views into caller-provided buffers. The same code
// runs on the main thread (workers: 0) and inside worker threads, and every
// random draw comes from a stream keyed by (seed, epoch, dataset index, view)
// or (seed, epoch, batch index) — never from "how many draws happened
// before" — so the bytes do not depend on the number of workers or on which
// worker made which batch. An image file that cannot be decoded fails the batch, or, with
// onBadImage "skip", is left out of it (the batch is that much shorter) and reported.
import { Rng } from "./prng.js";
import type { ImageDataset } from "./dataset.js";
import { MemoryDataset } from "./dataset.js";
import type { RgbImage } from "./image.js";
import { Augmenter } from "./transforms/pipeline.js";
import { applyMixup, sampleMixup, type MixupParams } from "./transforms/targets.js";
import type { CropConfig } from "./transforms/pipeline.js";
import { BadImageError } from "./decode.js";
import type { BadImage } from "./image_check.js";

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
  /** An undecodable image file: fail the batch (default) or leave the image out. */
  onBadImage?: "skip" | "fail";
  /** The view index of slot view 0 (a member-parallel rank makes only its member's view). Default 0. */
  firstView?: number;
}

/** What fill() made: the images in the slot, the mixup parameters, and what was skipped. */
export interface FillResult {
  /** Images written to the slot (the batch's size minus the skipped ones). */
  images: number;
  mixup?: MixupParams;
  /** The image files left out (onBadImage "skip"), in batch order. */
  skipped: BadImage[];
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
   * and returns how many it wrote, the batch's mixup parameters when mixup is on,
   * and the image files it skipped.
   */
  async fill(
    epoch: number,
    batchIndex: number,
    indices: Int32Array,
    slot: SlotBuffers,
  ): Promise<FillResult> {
    let n = indices.length;
    const ds = this.dataset;
    const skipped: BadImage[] = [];
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
      const bad: (BadImage | undefined)[] = new Array(n);
      let sampleFloats = 0;
      await Promise.all(
        Array.from(indices, async (idx, k) => {
          slot.labels[k] = ds.labels[idx];
          for (let v = 0; v < this.spec.views; v++) {
            const rng = this.viewRng(epoch, idx, (this.spec.firstView ?? 0) + v);
            let img: RgbImage;
            try {
              img = isCropping(ds)
                ? await ds.loadCropped(idx, this.augmenter.config.crop, rng)
                : this.augmenter.cropInMemory(await ds.getImage(idx), rng);
            } catch (e) {
              if (!(e instanceof BadImageError && this.spec.onBadImage === "skip")) throw e;
              bad[k] = { file: e.file, kind: e.kind, reason: e.reason };
              return;
            }
            sampleFloats = 3 * img.width * img.height;
            this.augmenter.finish(
              this.augmenter.pixelOps(img, rng),
              slot.views[v],
              k * sampleFloats,
              rng,
            );
          }
        }),
      );
      n = compact(slot, bad, sampleFloats, this.spec.views);
      skipped.push(...bad.filter((b): b is BadImage => b !== undefined));
      if (n === 0) {
        throw new BadImageError(
          skipped[0].file,
          skipped[0].kind,
          `${skipped[0].reason}; every image of batch ${batchIndex} of epoch ${epoch} is undecodable, so there is nothing to train on`,
        );
      }
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
      return { images: n, mixup: mix, skipped };
    }
    return { images: n, skipped };
  }
}

/**
 * Moves the samples that were written down over the holes the skipped ones (bad[k] set) left,
 * keeping their order; returns how many remain.
 */
function compact(
  slot: SlotBuffers,
  bad: readonly (BadImage | undefined)[],
  sampleFloats: number,
  views: number,
): number {
  let kept = 0;
  for (let k = 0; k < bad.length; k++) {
    if (bad[k]) continue;
    if (kept !== k) {
      slot.labels[kept] = slot.labels[k];
      for (let v = 0; v < views; v++)
        slot.views[v].copyWithin(kept * sampleFloats, k * sampleFloats, (k + 1) * sampleFloats);
    }
    kept++;
  }
  return kept;
}
