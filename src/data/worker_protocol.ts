// Messages between MultiViewLoader and its worker threads (structured-clone safe).
import type { DatasetSource } from "./dataset.js";
import type { AugmentConfig } from "./transforms/pipeline.js";
import type { DataErrorCode } from "./errors.js";
import type { BadImage } from "./image_check.js";

export interface WorkerInit {
  source: DatasetSource;
  augment: AugmentConfig;
  seed: number;
  views: number;
  mixupAlpha: number;
  onBadImage: "skip" | "fail";
  firstView: number;
  /** Shared output slots, indexed by slot id. */
  slots: { views: Float32Array[]; labels: Int32Array }[];
}

export interface WorkerRequest {
  id: number;
  epoch: number;
  batchIndex: number;
  indices: Int32Array;
  slot: number;
}

export interface WorkerReply {
  id: number;
  /** Images written to the slot. */
  images?: number;
  mixup?: { lambda: number; perm: Int32Array };
  /** Image files left out of the batch (onBadImage "skip"). */
  skipped?: BadImage[];
  error?: string;
  errorCode?: DataErrorCode;
  /** The error was a BadImageError: its parts, so the loader can rebuild it. */
  badImage?: BadImage;
}
