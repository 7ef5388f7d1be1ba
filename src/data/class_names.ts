// Human-readable class names of the datasets, for printing predictions. CIFAR-10/100 and SVHN
// have fixed label sets (listed here in label order, as the datasets' meta files give them);
// an ImageNet-style folder names its classes by its sub-folders (sorted, torchvision's order).
import * as fs from "node:fs";
import * as path from "node:path";
import { CIFAR10_CLASSES } from "./cifar.js";
import type { DatasetKind } from "./stats.js";

/** CIFAR-100's fine labels in label order (the dataset's fine_label_names.txt). */
// prettier-ignore
export const CIFAR100_CLASSES: readonly string[] = [
  "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
  "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
  "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
  "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
  "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
  "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
  "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
  "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
  "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
  "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
  "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
];

/**
 * The class names of `kind` with `numClasses` classes, or null when they are not known: an
 * ImageNet model's names come from its folder's train/ or val/ sub-folders (`dataDir`), and a
 * model built with a non-standard class count has none.
 */
export function classNamesFor(
  kind: DatasetKind,
  numClasses: number,
  dataDir?: string,
): readonly string[] | null {
  let names: readonly string[] | null = null;
  if (kind === "cifar10") names = CIFAR10_CLASSES;
  else if (kind === "cifar100") names = CIFAR100_CLASSES;
  else if (kind === "svhn") names = Array.from({ length: 10 }, (_, d) => String(d));
  else if (dataDir) {
    for (const split of ["train", "val"]) {
      const dir = path.join(dataDir, split);
      if (!fs.existsSync(dir)) continue;
      names = fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
      break;
    }
  }
  return names && names.length === numClasses ? names : null;
}
