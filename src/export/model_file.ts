// Writes an ONNX model to disk, atomically. A protobuf message cannot exceed 2 GiB, so a model
// whose weights come near that keeps them in a second file beside it (ONNX "external data": each
// initializer names the file, offset and length of its bytes; ONNX Runtime and onnx.checker read
// it from the model's folder). Small models stay one self-contained file unless asked otherwise.
import { basename } from "node:path";
import { writeFileAtomicWithSync } from "../io/atomic.js";
import { encodeModelChunks, type ModelProto } from "./onnx_proto.js";

/** Above this many bytes of weights a model's initializers go to external data ("auto"). */
export const EXTERNAL_DATA_THRESHOLD = 1.5 * 2 ** 30;
/** Initializers smaller than this stay inside the model file even with external data. */
const INLINE_BYTES = 1024;
/** Offsets of external tensors are aligned (as onnx's own writer may) so they can be mapped. */
const ALIGN = 64;

export interface WrittenModel {
  path: string;
  /** The external data file, when the weights went there. */
  dataPath?: string;
  /** Bytes of the model file (and of the data file). */
  bytes: number;
  dataBytes?: number;
}

/**
 * Writes `model` to `path`; `external`: true always puts the larger initializers in
 * `<path>.data`, "auto" when the weights exceed EXTERNAL_DATA_THRESHOLD, false never.
 */
export function writeModel(
  model: ModelProto,
  path: string,
  external: boolean | "auto" = "auto",
): WrittenModel {
  const weights = model.graph.initializer.reduce((n, t) => n + (t.rawData?.byteLength ?? 0), 0);
  const useExternal =
    external === true || (external === "auto" && weights > EXTERNAL_DATA_THRESHOLD);
  if (!useExternal) {
    return { path, bytes: writeChunks(path, encodeModelChunks(model)) };
  }
  const dataPath = `${path}.data`;
  const location = basename(dataPath);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const initializer = model.graph.initializer.map((t) => {
    const raw = t.rawData;
    if (!raw || raw.byteLength < INLINE_BYTES) return t;
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(raw);
    const entry = {
      name: t.name,
      dims: t.dims,
      dataType: t.dataType,
      dataLocation: 1,
      externalData: [
        { key: "location", value: location },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(raw.byteLength) },
      ],
    };
    offset += raw.byteLength;
    return entry;
  });
  writeFileAtomicWithSync(dataPath, (write) => chunks.forEach(write));
  const bytes = writeChunks(
    path,
    encodeModelChunks({ ...model, graph: { ...model.graph, initializer } }),
  );
  return { path, dataPath, bytes, dataBytes: offset };
}

/** Writes `chunks` to `path` atomically; returns the bytes written. */
function writeChunks(path: string, chunks: readonly Uint8Array[]): number {
  writeFileAtomicWithSync(path, (write) => chunks.forEach(write));
  return chunks.reduce((n, c) => n + c.byteLength, 0);
}
