// The ONNX file format: messages typed after the official onnx.proto, encoded with protobufjs
// from that file itself. The .proto is vendored at third_party/onnx/onnx.proto (ONNX v1.22.0,
// Apache-2.0, its LICENSE beside it) and parsed at run time — tsc does not copy .proto files, so
// it is read from the package root, which holds third_party/onnx in the repository and in the
// published package alike (package.json "files").
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import type { DType } from "../tensor/dtype.js";

/** TensorProto.DataType codes. */
export const ONNX_DTYPE: Partial<Record<DType, number>> = {
  f32: 1,
  u8: 2,
  i8: 3,
  i16: 5,
  i32: 6,
  i64: 7,
  bool: 9,
  f16: 10,
  f64: 11,
  bf16: 16,
};

/** The ONNX name of a DType's element type, for messages ("float" ...). */
export function onnxElemType(dtype: DType): number {
  const code = ONNX_DTYPE[dtype];
  if (code === undefined) throw new Error(`ONNX has no element type for ${dtype}`);
  return code;
}

export interface AttributeProto {
  name: string;
  /** AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7. */
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
}

export interface StringStringEntryProto {
  key: string;
  value: string;
}

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  /** 1 (EXTERNAL): the bytes are in another file, named by externalData's location/offset/length. */
  dataLocation?: number;
  externalData?: StringStringEntryProto[];
}

export interface NodeProto {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  docString?: string;
}

export interface ValueInfoProto {
  name: string;
  type: {
    tensorType: {
      elemType: number;
      shape: { dim: ({ dimValue: number } | { dimParam: string })[] };
    };
  };
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: GraphProto;
  metadataProps: StringStringEntryProto[];
}

/**
 * The package root (the folder of package.json): the repository, or the installed package. Both
 * hold third_party/onnx (package.json "files").
 */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/export/*.js (built) or src/export/*.ts (run from source)
  const candidates = [join(here, "..", "..", ".."), join(here, "..", "..")];
  const found = candidates.find((p) => existsSync(join(p, "third_party", "onnx", "onnx.proto")));
  if (!found)
    throw new Error(
      `divco export: the ONNX schema third_party/onnx/onnx.proto is missing (looked under ${candidates.join(", ")}); reinstall divco`,
    );
  return found;
}

/** The vendored onnx.proto. */
export function onnxProtoPath(): string {
  return join(packageRoot(), "third_party", "onnx", "onnx.proto");
}

/** divco's version (package.json), written into each model as its producer version. */
export function divcoVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    version?: string;
  };
  return pkg.version ?? "unknown";
}

let root: protobuf.Root | undefined;

function message(name: "ModelProto" | "GraphProto" | "TensorProto"): protobuf.Type {
  root ??= protobuf.loadSync(onnxProtoPath());
  return root.lookupType(`onnx.${name}`);
}

/** A varint (non-negative, below 2^53). */
function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** The key and length of a length-delimited field (wire type 2) of `length` bytes. */
function lengthDelimited(field: number, length: number): Uint8Array[] {
  return [varint(field * 8 + 2), varint(length)];
}

function encoded(type: protobuf.Type, value: object): Uint8Array {
  const problem = type.verify(value);
  if (problem) throw new Error(`divco export: an invalid ONNX ${type.name} was built (${problem})`);
  return type.encode(value).finish();
}

const byteLength = (chunks: readonly Uint8Array[]) => chunks.reduce((n, c) => n + c.byteLength, 0);

/**
 * The bytes of an .onnx file, as chunks to write in order. The weights are not copied: protobuf
 * encodes a message as the concatenation of its fields, so each tensor is its encoded header
 * followed by its raw_data field framed by hand around the tensor's own bytes, and the graph is
 * its other fields followed by the initializers (a repeated field may appear anywhere).
 */
export function encodeModelChunks(model: ModelProto): Uint8Array[] {
  const M = message("ModelProto");
  const G = message("GraphProto");
  const T = message("TensorProto");
  const rawField = T.fields.rawData.id;
  const initField = G.fields.initializer.id;
  const graphField = M.fields.graph.id;
  const graphChunks: Uint8Array[] = [encoded(G, { ...model.graph, initializer: [] })];
  for (const t of model.graph.initializer) {
    const head = encoded(T, { ...t, rawData: undefined });
    const raw = t.rawData ? [...lengthDelimited(rawField, t.rawData.byteLength), t.rawData] : [];
    const tensor = [head, ...raw];
    graphChunks.push(...lengthDelimited(initField, byteLength(tensor)), ...tensor);
  }
  const rest = encoded(M, { ...model, graph: undefined });
  return [rest, ...lengthDelimited(graphField, byteLength(graphChunks)), ...graphChunks];
}

/** The bytes of an .onnx file in one buffer (small models; files are written from the chunks). */
export function encodeModel(model: ModelProto): Uint8Array {
  return Buffer.concat(encodeModelChunks(model));
}

/** Parses an .onnx file (tests and tools read back what was written). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const M = message("ModelProto");
  return M.toObject(M.decode(bytes), { longs: Number, defaults: false }) as ModelProto;
}
