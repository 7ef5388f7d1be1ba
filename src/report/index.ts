// Run reporting: params/MACs accounting, metric logs, TensorBoard events, progress.
export * from "./accounting.js";
export { EventWriter, readEvents, readScalars } from "./tensorboard.js";
export { MetricsLog, readMetrics } from "./metrics_log.js";
export { Progress } from "./progress.js";
