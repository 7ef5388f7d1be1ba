// POST /v1/predict: images in, top-k classes out. The body is one image (Content-Type
// image/jpeg, image/png or any image/* sharp decodes) or multipart/form-data with one or more
// image files; each is decoded and transformed exactly as `divco predict` and evaluation do
// (infer/images.ts EvalTransform), then all of them go to the batcher as one request. The
// query says how many classes (?top=K, default 5) and whether each member's own top-k comes
// too (?members=true). Any image that cannot be used fails the whole request with a 400 naming
// it: the client sent it and should know, rather than get fewer answers than images.
import type { FastifyRequest } from "fastify";
import { openImageBytes } from "../data/decode.js";
import { EvalTransform, withoutName } from "../infer/images.js";
import { topClasses, type TopClass } from "../infer/predictor.js";
import { badRequest, ServeError } from "./errors.js";
import type { BatchOutputs } from "./batcher.js";
import type { ServedModel } from "./model.js";

/** Decoding a larger image could take gigabytes (a small PNG can declare 50000×50000 pixels). */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** One uploaded image and what names it in messages (and, for a multipart file, in answers). */
export interface Upload {
  name: string;
  /** The multipart part's file name (else its field name); absent for a plain image body. */
  file?: string;
  bytes: Buffer;
}

export interface PredictQuery {
  top: number;
  members: boolean;
}

/** ?top=K&members=true|false, checked (unknown parameters are refused, to catch typos). */
export function parsePredictQuery(query: unknown, numClasses: number): PredictQuery {
  const q = (query ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(q).filter((k) => k !== "top" && k !== "members");
  if (unknown.length)
    throw badRequest(
      `unknown query parameter${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; /v1/predict takes top=K and members=true|false`,
    );
  let top = 5;
  if (q.top !== undefined) {
    top = Number(q.top);
    if (typeof q.top !== "string" || !Number.isInteger(top) || top < 1 || top > numClasses)
      throw badRequest(`top must be an integer from 1 to ${numClasses}, got ${String(q.top)}`);
  }
  let members = false;
  if (q.members !== undefined) {
    if (!["true", "false", "1", "0"].includes(String(q.members)))
      throw badRequest(`members must be true or false, got ${String(q.members)}`);
    members = q.members === "true" || q.members === "1";
  }
  return { top, members };
}

/**
 * The request's images: the body itself (an image content type), or the file parts of a
 * multipart body (at most maxImages, at most maxBytes in all).
 */
export async function readUploads(
  req: FastifyRequest,
  maxImages: number,
  maxBytes: number,
): Promise<Upload[]> {
  if (req.isMultipart()) {
    const uploads: Upload[] = [];
    let bytes = 0;
    for await (const part of req.parts()) {
      if (part.type !== "file")
        throw badRequest(
          `multipart field "${part.fieldname}" is not a file; send images as file parts, options in the query (?top=5&members=true)`,
        );
      if (uploads.length === maxImages)
        throw new ServeError(
          413,
          `more than ${maxImages} images in one request (--max-batch); send fewer per request`,
        );
      const buf = await part.toBuffer();
      bytes += buf.length;
      if (bytes > maxBytes)
        throw new ServeError(
          413,
          `the images add up to more than the body limit of ${maxBytes} bytes (--body-limit-mb)`,
        );
      const file = part.filename || part.fieldname;
      uploads.push({ name: `file "${file}"`, file, bytes: buf });
    }
    if (uploads.length === 0)
      throw badRequest("the multipart body has no file part; send one or more images as files");
    return uploads;
  }
  if (req.body !== undefined && !Buffer.isBuffer(req.body))
    // Parsed by one of fastify's default parsers (text, JSON): not an image type.
    throw new ServeError(
      415,
      `Content-Type ${req.headers["content-type"]} is not taken by /v1/predict: send an image (image/jpeg, image/png) or multipart/form-data`,
    );
  if (!Buffer.isBuffer(req.body))
    throw badRequest(
      "no image: send the image as the body (Content-Type: image/jpeg or image/png) or as files of a multipart/form-data body",
    );
  return [{ name: "request body", bytes: req.body }];
}

/** Every upload decoded and transformed into one n×3×H×W array; a 400 names a bad image. */
export async function decodeUploads(
  uploads: readonly Upload[],
  transform: EvalTransform,
): Promise<Float32Array> {
  const sample = transform.sampleSize;
  const rows = new Float32Array(uploads.length * sample);
  await Promise.all(
    uploads.map(async (u, i) => {
      try {
        const src = await openImageBytes(u.name, u.bytes);
        if (src.width * src.height > MAX_IMAGE_PIXELS)
          throw new Error(
            `${src.width}×${src.height} image is larger than ${MAX_IMAGE_PIXELS / 1e6} megapixels; resize it first`,
          );
        await transform.apply(src, rows, i * sample);
      } catch (e) {
        throw badRequest(`${u.name}: ${withoutName(u.name, (e as Error).message)}`);
      }
    }),
  );
  return rows;
}

/** One image's answer. */
export interface ImageAnswer {
  /** The multipart file's name (absent for a plain image body). */
  image?: string;
  top: TopClass[];
  /** Each member's own top-k (its softmax), when asked for. */
  members?: TopClass[][];
}

/** The answers for the uploads from their rows of the batch outputs. */
export function answers(
  uploads: readonly Upload[],
  out: BatchOutputs,
  q: PredictQuery,
  model: ServedModel,
): ImageAnswer[] {
  const c = out.numClasses;
  const row = (a: Float32Array, i: number) => a.subarray(i * c, (i + 1) * c);
  return uploads.map((u, i) => ({
    ...(u.file !== undefined ? { image: u.file } : {}),
    top: topClasses(row(out.probabilities, i), q.top, model.classNames),
    ...(q.members
      ? { members: out.members.map((m) => topClasses(softmax(row(m, i)), q.top, model.classNames)) }
      : {}),
  }));
}

/** A member's class probabilities from its logits (max subtracted, for range). */
function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const p = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = p.reduce((s, v) => s + v, 0);
  return p.map((v) => v / sum);
}
