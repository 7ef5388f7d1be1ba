// Before the first training step: decode every image of the evaluation split once, so an
// undecodable file stops the run at its start rather than after a whole training epoch.
// Evaluation never skips an image (the accuracy must be over the whole split), so any bad file
// here is an error, whatever onBadImage says for training images.
import { ImageFolderDataset } from "../data/imagefolder.js";
import type { ImageDataset } from "../data/dataset.js";
import { DataError } from "../data/errors.js";
import { checkImages, badImageSummary } from "../data/image_check.js";
import { Progress } from "../report/progress.js";

/** Bad files listed in the message at most; the rest are counted (divco data check lists all). */
const LISTED = 20;

/**
 * Decodes every image of an image-folder evaluation split (in-memory datasets always decode),
 * with a progress bar on `out`; throws a DataError listing the files that cannot be decoded.
 */
export async function checkEvaluationImages(
  ds: ImageDataset,
  out: NodeJS.WritableStream | null,
): Promise<void> {
  if (!(ds instanceof ImageFolderDataset)) return;
  const progress = out
    ? new Progress({ total: ds.size, label: `checking ${ds.name} images`, stream: out })
    : null;
  const r = await checkImages(ds.files, { onProgress: (done) => progress?.update(done) });
  progress?.done();
  if (r.bad.length === 0) return;
  const listed = r.bad.slice(0, LISTED).map((b) => `  ${b.file}: ${b.kind} (${b.reason})`);
  if (r.bad.length > LISTED) listed.push(`  … and ${r.bad.length - LISTED} more`);
  throw new DataError(
    "corrupt",
    `the evaluation split ${ds.name} has ${r.bad.length} of ${r.checked} image files that cannot be decoded (${badImageSummary(r.bad)}):\n` +
      `${listed.join("\n")}\n` +
      `Evaluation must cover the whole split, so --on-bad-image skip does not apply to it: replace or remove these files ` +
      "(divco data check imagenet --dir ROOT lists every bad image of both splits).",
  );
}
