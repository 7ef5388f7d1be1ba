// Inference: the ensemble predictor and its execution modes (sequential, concurrent worker
// threads, horizontal fusion, CUDA devices), latency measurement, image-file prediction.
export {
  Ensemble,
  Prediction,
  topClasses,
  type ModelSource,
  type EnsembleOptions,
  type TopClass,
  type ImagePrediction,
} from "./predictor.js";
export {
  startEngine,
  EXECUTION_MODES,
  MODE_CHOICES,
  CPU_MODES,
  ModeUnavailableError,
  type Engine,
  type EngineOptions,
  type ExecutionMode,
  type ModeChoice,
} from "./engines.js";
export { startFastest, autoCandidates, type AutoChoice, type AutoCandidate } from "./auto.js";
export { FusedMembers, FusionError, fusionRefusals, type FusionRefusal } from "./fuse.js";
export { MemberPool, type MemberPoolOptions, type PoolForwardMode } from "./member_pool.js";
export { summarize, timeInterleaved, type LatencySummary, type TimingOptions } from "./latency.js";
export {
  expandImagePaths,
  loadEvalImages,
  EvalTransform,
  type ImageBatch,
  type FileError,
} from "./images.js";
