// The dataset kinds and their per-dataset constants from the reference, defined here once for
// the whole project: class counts (REFERENCE.md §10.21), normalisation mean/std and the
// random-erasing ("cutout") box parameters (§6).

export type DatasetKind = "cifar10" | "cifar100" | "svhn" | "imagenet";
export type Triple = readonly [number, number, number];

export const DATASET_KINDS: readonly DatasetKind[] = ["cifar10", "cifar100", "svhn", "imagenet"];

/** The 32×32 datasets, which share the CIFAR networks (3 stages, 3×3 stem) of every family. */
export const CIFAR_LIKE: readonly DatasetKind[] = ["cifar10", "cifar100", "svhn"];

/** For the ImageNet-only architectures' dataset lists. */
export const IMAGENET_ONLY: readonly DatasetKind[] = ["imagenet"];

export const NORMALIZATION: Record<DatasetKind, { mean: Triple; std: Triple }> = {
  // §6.2 (note: the CIFAR-10 std is the reference's (0.2023, 0.1994, 0.2010), not the true pixel std)
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  // §6.4
  svhn: { mean: [0.4309, 0.4302, 0.4463], std: [0.1965, 0.1983, 0.1994] },
  // §6.3
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

export interface ErasingParams {
  /** Probability of erasing one box (the reference's --erase_p, default 0.5). */
  p: number;
  /** Box area as a fraction of the image. */
  scale: readonly [number, number];
  /** Box aspect ratio range (log-uniform). */
  ratio: readonly [number, number];
}

/** RandomErasing used as cutout, value 0 after normalisation (§6.2–6.4, §10.7). */
export const ERASING: Record<DatasetKind, ErasingParams> = {
  cifar10: { p: 0.5, scale: [0.125, 0.2], ratio: [0.99, 1.0] },
  cifar100: { p: 0.5, scale: [0.0625, 0.1], ratio: [0.99, 1.0] },
  svhn: { p: 0.5, scale: [0.125, 0.25], ratio: [0.9, 1.1] },
  imagenet: { p: 0.5, scale: [0.05, 0.12], ratio: [0.5, 1.5] },
};

export const NUM_CLASSES: Record<DatasetKind, number> = {
  cifar10: 10,
  cifar100: 100,
  svhn: 10,
  imagenet: 1000,
};

/** timm's img_mean fill for RandAugment: round(255·mean), §6.3. */
export function meanFill(kind: DatasetKind): Triple {
  const m = NORMALIZATION[kind].mean;
  return [
    Math.min(255, Math.round(255 * m[0])),
    Math.min(255, Math.round(255 * m[1])),
    Math.min(255, Math.round(255 * m[2])),
  ];
}
