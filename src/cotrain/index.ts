// Co-training: the trainer, evaluation, losses, configuration and checkpoints.
export {
  train,
  NonFiniteLossError,
  type TrainInput,
  type TrainOptions,
  type TrainResult,
  type TrainCallbacks,
  type EpochInfo,
} from "./trainer.js";
export {
  evaluate,
  evaluateCounts,
  evalResult,
  type EvalResult,
  type EvalCounts,
  type EvaluateOptions,
} from "./evaluate.js";
// The trainer's phases, for a loop of one's own (trainer.ts shows how they compose).
export { buildRun, closeRun, type Run } from "./run.js";
export { startStepRunner, type StepRunner } from "./step_runner.js";
export {
  trainOneEpoch,
  validate,
  type EpochContext,
  type EpochOutcome,
  type StepInfo,
} from "./epoch.js";
export {
  emptyEpochSums,
  addStep,
  summarizeEpoch,
  epochRow,
  type EpochSums,
} from "./epoch_stats.js";
export {
  RunCheckpoints,
  restoreLast,
  restoreCheckpoint,
  freshRunState,
  updateBest,
  type RunState,
} from "./run_checkpoints.js";
export { StopRequest, type StopOptions } from "./stop.js";
export {
  resolveConfig,
  readConfigFile,
  checkConfigValues,
  preset,
  DEFAULTS,
  CONFIG_SCHEMA,
  CONFIG_KEYS,
  ConfigError,
  type KeySpec,
  type ValueOrigin,
  type TrainConfig,
} from "./config.js";
export { checkEvaluationImages } from "./preflight.js";
export {
  jsDivergence,
  klSeparate,
  sumCrossEntropy,
  coTrainingLoss,
  coTrainingWeight,
  type CotLoss,
} from "./losses.js";
// The ensemble lives with the models (every user of Members shares it); re-exported for cotrain users.
export { ensemble, ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
export { coTrainStep, coTrainStepConcurrent, type StepOptions, type StepResult } from "./step.js";
export { ConcurrentMembers, drawsRandomInForward, type ConcurrentOptions } from "./concurrent.js";
// Several processes: the trainer's distributed phases and the distributed step.
export { joinDistributed, Distributed } from "./distributed.js";
export { DistributedSteps, type DistStepOptions, type AgreedStop } from "./dist_steps.js";
export {
  saveCheckpoint,
  loadCheckpoint,
  readCheckpoint,
  readCheckpointMeta,
  CheckpointError,
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  type CheckpointProblem,
  type Position,
} from "../io/run_checkpoint.js";
export {
  planResume,
  surveyCheckpoints,
  ResumeRefusedError,
  type ResumePlan,
  type CheckpointStatus,
} from "./resume.js";
export { RunDirBusyError, RUN_LOCK } from "./run_lock.js";
export { CRASH_POINTS, type CrashPoint } from "./crash_points.js";
