// Serving a divided model over HTTP (`divco serve`): the Open Inference Protocol (KServe v2)
// endpoints and an image endpoint, dynamic batching, admission control, Prometheus metrics.
export {
  createServer,
  serveSettings,
  DivcoServer,
  type ServeOptions,
  type ServeSettings,
} from "./server.js";
export {
  Batcher,
  sliceOutputs,
  type BatchOutputs,
  type BatcherOptions,
  type Forward,
} from "./batcher.js";
export { forwardOf, type ServedModel } from "./model.js";
export { ServeError } from "./errors.js";
export {
  INPUT_NAME,
  PROBABILITIES,
  ENSEMBLE_SCORES,
  memberOutput,
  outputNames,
  modelMetadata,
  parseInferRequest,
  type InferRequest,
} from "./kserve.js";
export { MAX_IMAGE_PIXELS } from "./image_predict.js";
export { ServeMetrics } from "./metrics.js";
