// Decoding every image of a folder once, to find the files training would fail on. Shared by
// `divco data check imagenet` and training's pre-flight check of the evaluation split: both
// decode exactly as training does (decode.ts), so what passes here decodes there.
import { availableParallelism } from "node:os";
import { BadImageError, BAD_IMAGE_KINDS, decodeRgb, type BadImageKind } from "./decode.js";

/** A file that cannot be decoded, with what kind of problem it has and the decoder's words. */
export interface BadImage {
  file: string;
  kind: BadImageKind;
  reason: string;
}

export interface ImageCheck {
  /** Files decoded. */
  checked: number;
  /** The files that failed, in the order given. */
  bad: BadImage[];
}

export interface CheckOptions {
  /** Decodes in flight at once (default: the number of cores, at least 2). */
  concurrency?: number;
  /** Called after each file with the number done so far. */
  onProgress?: (done: number) => void;
}

/** Decodes every file; a file that cannot be decoded is listed, never thrown. */
export async function checkImages(
  files: readonly string[],
  opts: CheckOptions = {},
): Promise<ImageCheck> {
  const concurrency = Math.max(1, opts.concurrency ?? Math.max(2, availableParallelism()));
  const bad: (BadImage | undefined)[] = new Array(files.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      try {
        await decodeRgb(files[i]);
      } catch (e) {
        if (!(e instanceof BadImageError)) throw e;
        bad[i] = { file: e.file, kind: e.kind, reason: e.reason };
      }
      opts.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return { checked: files.length, bad: bad.filter((b): b is BadImage => b !== undefined) };
}

/** Bad files grouped by kind, in BAD_IMAGE_KINDS order, with the count of each. */
export function badImagesByKind(bad: readonly BadImage[]): [BadImageKind, BadImage[]][] {
  return BAD_IMAGE_KINDS.map(
    (k) => [k, bad.filter((b) => b.kind === k)] as [BadImageKind, BadImage[]],
  ).filter(([, list]) => list.length > 0);
}

/** "2 not an image, 1 empty file": the summary of a list of bad files. */
export function badImageSummary(bad: readonly BadImage[]): string {
  return badImagesByKind(bad)
    .map(([kind, list]) => `${list.length} ${kind}`)
    .join(", ");
}
