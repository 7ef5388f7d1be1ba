// Optimisers: SGD (Nesterov), AdamW, RMSprop — parameter groups and resumable state.
export { Optimizer, type OptimizerState, type ParamGroup, type ParamsInput } from "./optimizer.js";
export { SGD, type SGDOptions } from "./sgd.js";
export { AdamW, type AdamWOptions } from "./adamw.js";
export { RMSprop, type RMSpropOptions } from "./rmsprop.js";
export { LrSchedule, LR_DEFAULTS, type LrMode, type LrScheduleOptions } from "./schedule.js";
export {
  weightDecayGroups,
  dividedWeightDecay,
  type DecayGrouping,
  type DecayGroups,
} from "./param_groups.js";
