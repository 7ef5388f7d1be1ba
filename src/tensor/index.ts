// The tensor engine's public surface.
import "./runtime.js"; // sets the default thread count at load
export { Tensor, where, wrap, type Device, type Scalar } from "./tensor.js";
export type { DType, MemoryFormatName } from "./dtype.js";
export { isFloating, ITEM_SIZE, dtypeCode, dtypeFromCode } from "./dtype.js";
export * from "./creation.js";
export {
  Generator,
  manualSeed,
  defaultGeneratorState,
  setDefaultGeneratorState,
} from "./random.js";
export { noGrad, enableGrad, inferenceMode, isGradEnabled, backward } from "./autograd.js";
export { scope, inScope } from "./scope.js";
export {
  setNumThreads,
  getNumThreads,
  cudaAvailable,
  cudaDeviceCount,
  buildInfo,
  heapStats,
} from "./runtime.js";
export { anyOp, opId } from "./ops.js";
export { native } from "./native.js";
