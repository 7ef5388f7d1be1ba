// The Open Inference Protocol (KServe v2) JSON shapes, as its REST specification defines them
// (kserve/open-inference-protocol, specification/protocol/inference_rest.md): server and model
// metadata, and an inference request {id?, parameters?, inputs: [{name, shape, datatype,
// parameters?, data}], outputs?: [{name}]} answered by {model_name, id?, outputs: [{name, shape,
// datatype, data}]}; failures are {error: string}. Tensor data is row-major, flat or nested
// (the protocol allows both); the model's one input is "input", FP32 [N, 3, H, W] normalised as
// the dataset's evaluation does, and its outputs are the ensemble's class probabilities, its
// scores by the ensemble rule, and each member's logits (REFERENCE.md §4).
import { badRequest } from "./errors.js";
import type { BatchOutputs } from "./batcher.js";
import type { ServedModel } from "./model.js";

/** The model's input tensor. */
export const INPUT_NAME = "input";
/** The ensemble's class probabilities, [N, C]. */
export const PROBABILITIES = "probabilities";
/** The ensemble's scores by its rule (mean_logits: the members' mean logits), [N, C]. */
export const ENSEMBLE_SCORES = "ensemble";
/** Member i's logits, [N, C]. */
export const memberOutput = (i: number): string => `member_${i}`;

/** The output names of a model with S members, in the order the response lists them. */
export function outputNames(split: number): string[] {
  return [
    PROBABILITIES,
    ENSEMBLE_SCORES,
    ...Array.from({ length: split }, (_, i) => memberOutput(i)),
  ];
}

interface TensorMetadata {
  name: string;
  datatype: string;
  /** -1: any size (the batch). */
  shape: number[];
}

/**
 * $metadata_model_response, with what divco knows about the model as "parameters" (scalars,
 * as the protocol's $parameters allow; class names come with /v1/predict's answers).
 */
export function modelMetadata(model: ServedModel, name: string) {
  const c = model.numClasses;
  const outputs: TensorMetadata[] = outputNames(model.split).map((o) => ({
    name: o,
    datatype: "FP32",
    shape: [-1, c],
  }));
  return {
    name,
    versions: [] as string[],
    platform: "divco_libtorch",
    inputs: [{ name: INPUT_NAME, datatype: "FP32", shape: [-1, 3, model.crop, model.crop] }],
    outputs,
    parameters: {
      arch: model.arch,
      split: model.split,
      dataset: model.dataset,
      ensemble_rule: model.rule,
      mode: model.mode,
      num_classes: c,
    },
  };
}

/** A validated inference request. */
export interface InferRequest {
  id?: string;
  /** n×3×H×W floats, row-major. */
  data: Float32Array;
  n: number;
  /** The outputs to return, in response order. */
  outputs: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks an inference request against the model (one FP32 input [N, 3, crop, crop] with
 * 1 ≤ N ≤ maxBatch) and copies its data. Throws a 400 ServeError naming what is wrong.
 */
export function parseInferRequest(
  body: unknown,
  model: ServedModel,
  maxBatch: number,
): InferRequest {
  if (!isObject(body))
    throw badRequest(
      'the body must be a JSON inference request object: {"inputs": [{"name", "shape", "datatype", "data"}]}',
    );
  const id = body.id;
  if (id !== undefined && typeof id !== "string") throw badRequest(`"id" must be a string`);
  const inputs = body.inputs;
  if (inputs === undefined) throw badRequest(`missing field "inputs"`);
  if (!Array.isArray(inputs) || inputs.length !== 1)
    throw badRequest(
      `"inputs" must be an array of one tensor (this model has one input, "${INPUT_NAME}")`,
    );
  const input: unknown = inputs[0];
  if (!isObject(input)) throw badRequest(`inputs[0] must be an object`);
  for (const field of ["name", "shape", "datatype", "data"])
    if (input[field] === undefined) throw badRequest(`missing field "inputs[0].${field}"`);
  const c = model.crop;
  const expected = `[N, 3, ${c}, ${c}] with 1 ≤ N ≤ ${maxBatch}`;
  if (input.name !== INPUT_NAME)
    throw badRequest(
      `unknown input ${JSON.stringify(input.name)}; this model's input is "${INPUT_NAME}", FP32 ${expected}`,
    );
  if (input.datatype !== "FP32")
    throw badRequest(
      `wrong datatype ${JSON.stringify(input.datatype)} for "${INPUT_NAME}": it takes FP32 (images normalised as ${model.dataset}'s evaluation does)`,
    );
  const shape = input.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d): d is number => Number.isInteger(d) && (d as number) >= 0)
  )
    throw badRequest(`"inputs[0].shape" must be an array of non-negative integers`);
  const [n, ch, h, w] = shape;
  if (shape.length !== 4 || ch !== 3 || h !== c || w !== c || n < 1 || n > maxBatch)
    throw badRequest(
      `wrong shape [${shape.join(", ")}] for "${INPUT_NAME}": expected ${expected}${n > maxBatch && shape.length === 4 ? " (--max-batch; send fewer images per request)" : ""}`,
    );
  const count = n * ch * h * w;
  const data = new Float32Array(count);
  const filled = flatten(input.data, data);
  if (filled !== count)
    throw badRequest(
      `"inputs[0].data" holds ${filled} values; shape [${shape.join(", ")}] needs ${count}`,
    );
  return { id, data, n, outputs: requestedOutputs(body.outputs, model.split) };
}

/**
 * Copies a flat or nested array of numbers into `out` in row-major order; returns how many
 * values it holds (it stops counting past out.length, which is already a mismatch).
 */
function flatten(data: unknown, out: Float32Array): number {
  if (!Array.isArray(data)) throw badRequest(`"inputs[0].data" must be an array of numbers`);
  let k = 0;
  const stack: unknown[][] = [data];
  const index: number[] = [0];
  while (stack.length) {
    const top = stack.length - 1;
    const arr = stack[top];
    if (index[top] === arr.length) {
      stack.pop();
      index.pop();
      continue;
    }
    const v = arr[index[top]++];
    if (typeof v === "number") {
      if (k < out.length) out[k] = v;
      if (++k > out.length) return k;
    } else if (Array.isArray(v)) {
      stack.push(v);
      index.push(0);
    } else {
      throw badRequest(
        `"inputs[0].data" must hold only numbers (FP32); found ${v === null ? "null" : typeof v} at value ${k}`,
      );
    }
  }
  return k;
}

function requestedOutputs(outputs: unknown, split: number): string[] {
  const known = outputNames(split);
  if (outputs === undefined) return known;
  if (!Array.isArray(outputs))
    throw badRequest(`"outputs" must be an array of {"name": ...} (${known.join(", ")})`);
  return outputs.map((o, i) => {
    const name = isObject(o) ? o.name : undefined;
    if (typeof name !== "string") throw badRequest(`outputs[${i}] must be {"name": string}`);
    if (!known.includes(name))
      throw badRequest(
        `unknown output ${JSON.stringify(name)}; this model has ${known.join(", ")}`,
      );
    return name;
  });
}

/** $inference_response for the request's outputs. */
export function inferResponse(modelName: string, req: InferRequest, out: BatchOutputs) {
  const shape = [out.n, out.numClasses];
  const tensorOf = (name: string): Float32Array => {
    if (name === PROBABILITIES) return out.probabilities;
    if (name === ENSEMBLE_SCORES) return out.scores;
    return out.members[Number(name.slice("member_".length))];
  };
  return {
    model_name: modelName,
    ...(req.id !== undefined ? { id: req.id } : {}),
    outputs: req.outputs.map((name) => ({
      name,
      shape,
      datatype: "FP32",
      data: Array.from(tensorOf(name)),
    })),
  };
}
