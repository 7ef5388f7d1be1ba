// Co-training: the trainer, evaluation, losses, configuration and checkpoints.
export { train, NonFiniteLossError, type TrainOptions, type TrainResult, type TrainCallbacks, type EpochInfo } from "./trainer.js";
export { evaluate, type EvalResult } from "./evaluate.js";
export { resolveConfig, preset, DEFAULTS, ConfigError, type TrainConfig } from "./config.js";
export { jsDivergence, klSeparate, sumCrossEntropy, coTrainingLoss, coTrainingWeight, type CotLoss } from "./losses.js";
// The ensemble lives with the models (every user of Members shares it); re-exported for cotrain users.
export { ensemble, ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
export { coTrainStep, coTrainStepConcurrent, type StepOptions, type StepResult } from "./step.js";
export { ConcurrentMembers, drawsRandomInForward, type ConcurrentOptions } from "./concurrent.js";
export { saveCheckpoint, loadCheckpoint, readCheckpointMeta, type CheckpointMeta, type Position } from "./checkpoint.js";
