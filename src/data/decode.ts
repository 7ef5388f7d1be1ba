// Decoding an image file to RGB bytes as Pillow's `Image.open(file).convert("RGB")` does, with
// sharp (libvips) doing the work; the rest of the pipeline is Pillow-exact, so the decoded
// pixels must be too. sharp's own conversion to sRGB agrees with Pillow for 8-bit RGB, RGBA,
// grayscale, palette and 16-bit RGB images (Pillow keeps the high byte of 16-bit channels,
// libvips shifts by 8), and differs in three cases, each handled here:
//  - CMYK: sharp converts through an ICC profile; Pillow ignores profiles and computes
//    R = (255 − C)·(255 − K)/255 per channel with its integer rounding (Convert.c cmyk2rgb).
//    Both read CMYK JPEGs as inverted (Adobe's convention), with or without an APP14 marker.
//  - 16-bit grayscale (Pillow mode "I"/"I;16"): Pillow clamps values to 0..255, sharp scales
//    them (v >> 8).
//  - An embedded ICC profile on an RGB image: sharp converts to sRGB through it, Pillow leaves
//    the values as stored.
// Files that cannot be decoded throw BadImageError, which says what kind of problem it is
// (empty file, not an image, truncated, corrupt, unreadable) so `divco data check` can
// summarise a folder and training can skip or refuse such files.
import { readFile } from "node:fs/promises";
import sharp, { type Metadata, type Sharp, type OutputInfo } from "sharp";
import { DataError } from "./errors.js";
import type { RgbImage } from "./image.js";

/** What is wrong with an image file that cannot be decoded. */
export const BAD_IMAGE_KINDS = [
  "empty file",
  "not an image",
  "truncated",
  "corrupt",
  "unreadable",
] as const;
export type BadImageKind = (typeof BAD_IMAGE_KINDS)[number];

/** An image file that cannot be decoded; `kind` classifies it, `reason` is the decoder's words. */
export class BadImageError extends DataError {
  constructor(
    readonly file: string,
    readonly kind: BadImageKind,
    readonly reason: string,
  ) {
    super("corrupt", `${file}: cannot decode image: ${kind}${reason ? ` (${reason})` : ""}`);
    this.name = "BadImageError";
  }
}

/** How Pillow's convert("RGB") treats the file's pixels (see the header). */
type PixelKind = "plain" | "cmyk" | "gray16";

/** An opened image file: its bytes, size and how its pixels become RGB. */
export interface ImageSource {
  file: string;
  bytes: Buffer;
  width: number;
  height: number;
  pixels: PixelKind;
}

// failOn "error" (which implies "truncated") refuses what Pillow refuses: truncated and broken
// data streams. ignoreIcc: Pillow does not apply embedded profiles (see the header).
const INPUT = { failOn: "error", ignoreIcc: true } as const;

/** Reads the file and its header; throws BadImageError when it is not a readable image. */
export async function openImage(file: string): Promise<ImageSource> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new BadImageError(file, "unreadable", (e as Error).message);
  }
  return openImageBytes(file, bytes);
}

/**
 * An image held in memory (an upload, a request body) as an ImageSource; `file` names it in
 * messages. Throws BadImageError when the bytes are not a readable image.
 */
export async function openImageBytes(file: string, bytes: Buffer): Promise<ImageSource> {
  if (bytes.length === 0) throw new BadImageError(file, "empty file", "0 bytes");
  let meta: Metadata;
  try {
    meta = await sharp(bytes, INPUT).metadata();
  } catch (e) {
    throw badImage(file, e);
  }
  if (!meta.width || !meta.height)
    throw new BadImageError(file, "corrupt", "the header gives no image size");
  const pixels: PixelKind =
    meta.space === "cmyk"
      ? "cmyk"
      : meta.space === "grey16" && meta.channels === 1
        ? "gray16"
        : "plain";
  return {
    file,
    bytes,
    width: meta.width,
    height: meta.height,
    pixels,
  };
}

/** The file's pixels as RGB, exactly as Pillow's Image.open(file).convert("RGB"). */
export async function decodeRgb(file: string): Promise<RgbImage> {
  return sourceToRgb(await openImage(file));
}

/** An opened file's pixels as RGB (see decodeRgb). */
export async function sourceToRgb(src: ImageSource): Promise<RgbImage> {
  switch (src.pixels) {
    case "plain":
      return decodeWith(src, (s) => s);
    case "cmyk": {
      const d = await run(
        src,
        sharp(src.bytes, INPUT).pipelineColourspace("cmyk").toColourspace("cmyk").raw(),
      );
      return cmykToRgb(d.data, d.info);
    }
    case "gray16": {
      const d = await run(
        src,
        sharp(src.bytes, INPUT).toColourspace("grey16").raw({ depth: "ushort" }),
      );
      return gray16ToRgb(d.data, d.info);
    }
  }
}

/**
 * An opened "plain" file decoded through `build` (resize, extract) inside libvips, so the
 * full-size image never reaches JavaScript. Only for src.pixels === "plain"; other files are
 * decoded with sourceToRgb and transformed with transformRgb.
 */
export async function decodeWith(src: ImageSource, build: (s: Sharp) => Sharp): Promise<RgbImage> {
  if (src.pixels !== "plain")
    throw new Error(`decodeWith: ${src.file} has ${src.pixels} pixels; decode it with sourceToRgb`);
  const d = await run(
    src,
    build(sharp(src.bytes, INPUT)).removeAlpha().toColourspace("srgb").raw(),
  );
  return rgbOf(src.file, d);
}

/** Decoded RGB pixels through `build` (resize, extract) in libvips. */
export async function transformRgb(
  file: string,
  img: RgbImage,
  build: (s: Sharp) => Sharp,
): Promise<RgbImage> {
  const raw = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });
  try {
    return rgbOf(file, await build(raw).raw().toBuffer({ resolveWithObject: true }));
  } catch (e) {
    throw new DataError("corrupt", `${file}: cannot transform the decoded image (${message(e)})`);
  }
}

type Decoded = { data: Buffer; info: OutputInfo };

async function run(src: ImageSource, pipeline: Sharp): Promise<Decoded> {
  try {
    return await pipeline.toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw badImage(src.file, e);
  }
}

function rgbOf(file: string, d: Decoded): RgbImage {
  if (d.info.channels !== 3)
    throw new BadImageError(file, "corrupt", `decoded to ${d.info.channels} channels, expected 3`);
  return {
    width: d.info.width,
    height: d.info.height,
    data: new Uint8Array(d.data.buffer, d.data.byteOffset, d.data.length),
  };
}

/** (a·b)/255 rounded as Pillow's MULDIV255 macro does. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** Pillow's cmyk2rgb: R = (255 − K) − C·(255 − K)/255, likewise G from M and B from Y. */
function cmykToRgb(data: Buffer, info: OutputInfo): RgbImage {
  const n = info.width * info.height;
  const stride = info.channels;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const nk = 255 - data[p * stride + 3];
    for (let c = 0; c < 3; c++) out[p * 3 + c] = nk - mulDiv255(data[p * stride + c], nk);
  }
  return { width: info.width, height: info.height, data: out };
}

/** Pillow's "I"/"I;16" → RGB: values above 255 clamp to 255 (no scaling). */
function gray16ToRgb(data: Buffer, info: OutputInfo): RgbImage {
  const n = info.width * info.height;
  const v = new Uint16Array(data.buffer, data.byteOffset, n);
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) out.fill(Math.min(v[p], 255), p * 3, p * 3 + 3);
  return { width: info.width, height: info.height, data: out };
}

function message(e: unknown): string {
  // libvips repeats a line once per failed attempt; one is enough.
  const lines = (e instanceof Error ? e.message : String(e)).split("\n").filter((l) => l.trim());
  return [...new Set(lines)].join("; ");
}

/** A decoder failure as a BadImageError of the kind its message describes. */
function badImage(file: string, e: unknown): BadImageError {
  const reason = message(e);
  let kind: BadImageKind = "corrupt";
  if (/unsupported image format|Buffer is empty/i.test(reason)) kind = "not an image";
  else if (/premature end|truncated|unexpected end|end of (file|stream|data)/i.test(reason))
    kind = "truncated";
  return new BadImageError(file, kind, reason);
}
