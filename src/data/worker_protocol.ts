// Messages between MultiViewLoader and its worker threads (structured-clone safe).
import type { DatasetSource } from "./dataset.js";
import type { AugmentConfig } from "./transforms/pipeline.js";
import type { DataErrorCode } from "./errors.js";

export interface WorkerInit {
  source: DatasetSource;
  augment: AugmentConfig;
  seed: number;
  views: number;
  mixupAlpha: number;
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
  mixup?: { lambda: number; perm: Int32Array };
  error?: string;
  errorCode?: DataErrorCode;
}
