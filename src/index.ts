// divco's library surface: `import { tensor, nn, optim, data, models, infer, onnx, serve, io, dist } from "divco"`.
export * as tensor from "./tensor/index.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export * as io from "./io/index.js";
export * as data from "./data/index.js";
export * as models from "./models/index.js";
export * as infer from "./infer/index.js";
export * as serve from "./serve/index.js";
export * as onnx from "./export/index.js";
export * as cotrain from "./cotrain/index.js";
export * as report from "./report/index.js";
export * as dist from "./dist/index.js";
