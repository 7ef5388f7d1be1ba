// Public surface of the data pipeline (`import { data } from "divco"`):
// datasets, transforms, the multi-view loader and download helpers.
export { DataError, type DataErrorCode } from "./errors.js";
export { Rng } from "./prng.js";
export { type RgbImage, newImage, chwToHwc, hwcToChw } from "./image.js";
export { type ImageDataset, type DatasetSource, MemoryDataset } from "./dataset.js";
export {
  loadCifar10,
  loadCifar100,
  checkCifar,
  CIFAR10,
  CIFAR100,
  type CifarOptions,
  type Split,
} from "./cifar.js";
export { loadCifar10Sample, cifar10SampleDir } from "./sample.js";
export { loadSvhn, readSvhnMat, type SvhnSplit } from "./svhn.js";
export { ImageFolderDataset } from "./imagefolder.js";
export { decodeRgb, BadImageError, BAD_IMAGE_KINDS, type BadImageKind } from "./decode.js";
export {
  checkImages,
  badImageSummary,
  type BadImage,
  type ImageCheck,
  type CheckOptions,
} from "./image_check.js";
export { getCifar, type GetOptions } from "./download.js";
export { defaultDataRoot } from "./paths.js";
export { NORMALIZATION, ERASING, NUM_CLASSES, type DatasetKind } from "./stats.js";
export {
  presetAugmentation,
  Augmenter,
  type AugmentConfig,
  type PresetOptions,
} from "./transforms/pipeline.js";
export { autoAugment, AUTOAUGMENT_POLICIES } from "./transforms/autoaugment.js";
export { parseRandAugment, randAugment } from "./transforms/randaugment.js";
export { sampleMixup, applyMixup, softTargets, type MixupParams } from "./transforms/targets.js";
export {
  MultiViewLoader,
  copyBatch,
  type Batch,
  type LoaderOptions,
  type LoaderPosition,
} from "./loader.js";
