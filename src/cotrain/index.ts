// Co-training: the trainer, evaluation, losses, configuration and checkpoints.
export { train, NonFiniteLossError, type TrainOptions, type TrainResult, type TrainCallbacks, type EpochInfo } from "./trainer.js";
export { evaluate, type EvalResult } from "./evaluate.js";
export { resolveConfig, preset, DEFAULTS, ConfigError, type TrainConfig } from "./config.js";
export { jsDivergence, klSeparate, sumCrossEntropy, coTrainingLoss, coTrainingWeight, ensemble, type CotLoss, type EnsembleRule } from "./losses.js";
export { coTrainStep, coTrainStepConcurrent, type StepOptions, type StepResult } from "./step.js";
export { ConcurrentMembers, drawsRandomInForward, type ConcurrentOptions } from "./concurrent.js";
export { saveCheckpoint, loadCheckpoint, readCheckpointMeta, type CheckpointMeta, type Position } from "./checkpoint.js";
