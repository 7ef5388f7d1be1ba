// Layers, the Module base, initialisation and functional operations.
export { Module, StateDictError, type LoadResult } from "./module.js";
export { Conv2d, type Conv2dOptions } from "./layers/conv.js";
export { Linear } from "./layers/linear.js";
export { BatchNorm2d, type BatchNormOptions } from "./layers/batchnorm.js";
export {
  ReLU,
  ReLU6,
  SiLU,
  Sigmoid,
  Hardswish,
  Hardsigmoid,
  Identity,
  Dropout,
  Dropout2d,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Flatten,
} from "./layers/activation.js";
export {
  DropBlock2d,
  dropBlock2d,
  dropBlockGamma,
  type DropBlockOptions,
} from "./layers/dropblock.js";
export {
  Sequential,
  NamedSequential,
  ModuleList,
  pipe,
  consume,
  type Layer,
} from "./layers/containers.js";
export {
  fusedMembers,
  withFusedMembers,
  catChannels,
  padChannelsTo,
  markChannelAgnostic,
  isChannelAgnostic,
} from "./fusion.js";
export * as init from "./init.js";
export * as F from "./functional.js";
