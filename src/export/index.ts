// Deployment export: a divided model's members as ONNX (one ensemble graph, one graph per member
// with a manifest, or the fused network), written from the model's recorded evaluation forward
// and verified in ONNX Runtime against divco's own forward.
export {
  exportOnnx,
  separatePaths,
  MEMBER_LAYOUTS,
  DEFAULT_OPSET,
  type MemberLayout,
  type OnnxExportOptions,
  type OnnxExport,
  type ExportedGraph,
  type ExportManifest,
} from "./export.js";
export {
  verifyExport,
  float32Noise,
  DEFAULT_TOLERANCE,
  DEFAULT_VERIFY_BATCH,
  type VerifyOptions,
  type VerifyReport,
  type OutputCheck,
} from "./verify.js";
export { MIN_OPSET, MAX_OPSET } from "./to_onnx.js";
export { mappedOperators } from "./aten_to_onnx.js";
export { decodeModel, type ModelProto } from "./onnx_proto.js";
export { ExportError } from "./trace.js";
