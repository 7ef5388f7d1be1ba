// Opening the configured dataset's training and evaluation splits.
import { MemoryDataset, type ImageDataset } from "../data/dataset.js";
import { loadCifar10, loadCifar100 } from "../data/cifar.js";
import { loadCifar10Sample } from "../data/sample.js";
import { loadSvhn } from "../data/svhn.js";
import { ImageFolderDataset } from "../data/imagefolder.js";
import type { TrainConfig } from "./config.js";

export function openDatasets(
  c: Pick<TrainConfig, "dataset" | "data" | "evalLimit" | "trainLimit">,
): { train: ImageDataset; test: ImageDataset } {
  const dir = c.data || undefined;
  let train: ImageDataset;
  let test: ImageDataset;
  if (c.data === "sample") {
    train = loadCifar10Sample("train");
    test = loadCifar10Sample("test");
  } else if (c.dataset === "cifar10") {
    train = loadCifar10({ split: "train", dir });
    test = loadCifar10({ split: "test", dir });
  } else if (c.dataset === "cifar100") {
    train = loadCifar100({ split: "train", dir });
    test = loadCifar100({ split: "test", dir });
  } else if (c.dataset === "svhn") {
    // §6.4: the reference trains on train+extra.
    train = loadSvhn({ split: "train+extra", dir });
    test = loadSvhn({ split: "test", dir });
  } else {
    if (!dir)
      throw new Error("ImageNet needs --data <root> holding train/<class>/ and val/<class>/");
    train = ImageFolderDataset.open(dir, "train");
    test = ImageFolderDataset.open(dir, "val");
  }
  if (c.evalLimit > 0 && c.evalLimit < test.size) test = firstRecords(test, c.evalLimit);
  if (c.trainLimit > 0 && c.trainLimit < train.size) train = firstRecords(train, c.trainLimit);
  return { train, test };
}

/** The first n records of an in-memory dataset (e.g. CIFAR-10 test records 0–999, the bit-exact ones). */
function firstRecords(ds: ImageDataset, n: number): ImageDataset {
  if (!(ds instanceof MemoryDataset))
    throw new Error(
      `evalLimit/trainLimit need an in-memory dataset; ${ds.name} is read from files`,
    );
  return new MemoryDataset({
    name: `${ds.name}[0:${n}]`,
    width: ds.width,
    height: ds.height,
    numClasses: ds.numClasses,
    classNames: ds.classNames,
    pixels: ds.pixels.subarray(0, n * ds.recordBytes),
    labels: ds.labels.subarray(0, n),
  });
}
