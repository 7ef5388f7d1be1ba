// EfficientNet B0–B8 and L2. The reference has one name per variant for both datasets and picks the
// implementation by flag (REFERENCE.md §1.2): CIFAR/SVHN use its LightNet++ port
// (`--is_lukemelas_efficientnet 0`), ImageNet the lukemelas port (`1`). Here the dataset picks:
// the same name builds the CIFAR network for cifar10/cifar100/svhn and the ImageNet one for
// imagenet. Division: per-S width tables (§1.2), dropout ÷√S (§2, §10.10).
import { register, type BuildOptions } from "./registry.js";
import { EFFICIENTNET_COEFFICIENTS, EFFICIENTNET_TABLES } from "./efficientnet_common.js";
import { LightNetEfficientNet } from "./efficientnet_lightnet.js";
import { LukemelasEfficientNet } from "./efficientnet_lukemelas.js";
import type { Module } from "../nn/module.js";
import { CIFAR_LIKE, IMAGENET_ONLY, type DatasetKind } from "../data/stats.js";
import { extraProbability } from "./options.js";

function build(variant: string, o: BuildOptions): Module {
  const coef = EFFICIENTNET_COEFFICIENTS[variant];
  const table = EFFICIENTNET_TABLES[o.split];
  const sqrtS = o.split ** 0.5;
  // REFERENCE.md §2: FC dropout p/√S (both implementations); extra.dropout overrides p.
  const dropout = extraProbability(o, "dropout", coef.dropout) / sqrtS;
  if (o.dataset === "imagenet") {
    return new LukemelasEfficientNet({
      ...table,
      width: coef.width,
      depth: coef.depth,
      dropout,
      // REFERENCE.md §2: SplitNet overrides drop-connect to 0; a user-given base rate is ÷√S.
      dropConnect: extraProbability(o, "dropConnect", 0) / sqrtS,
      // The static "SAME" padding is laid out for the crop the network is built for.
      imageSize: o.crop,
      numClasses: o.numClasses,
    });
  }
  // CIFAR/SVHN (REFERENCE.md §1.2): stem stride 1, stages 3 and 6 (index 2, 5) stride 1.
  const stages = table.stages.map((st, i) => (i === 2 || i === 5 ? { ...st, s: 1 } : st));
  return new LightNetEfficientNet({
    ...table,
    stages,
    width: coef.width,
    depth: coef.depth,
    dropout,
    stemStride: 1,
    numClasses: o.numClasses,
  });
}

const CIFAR_AND_IMAGENET: readonly DatasetKind[] = [...CIFAR_LIKE, ...IMAGENET_ONLY];

for (const variant of ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "l2"]) {
  const coef = EFFICIENTNET_COEFFICIENTS[variant];
  // The reference trains B0–B3 on CIFAR (weight decays are defined for them, REFERENCE.md §6.2).
  const cifar = ["b0", "b1", "b2", "b3"].includes(variant);
  register({
    name: `efficientnet${variant}`,
    family: "efficientnet",
    splits: [1, 2, 4],
    datasets: cifar ? CIFAR_AND_IMAGENET : IMAGENET_ONLY,
    defaultCrop: coef.resolution,
    description:
      `EfficientNet-${variant.toUpperCase()} (width ${coef.width}, depth ${coef.depth}, dropout ${coef.dropout}÷√S): ` +
      (cifar
        ? "CIFAR/SVHN build the reference's LightNet++ network (stride-1 stem), imagenet "
        : "ImageNet only, ") +
      `the lukemelas network at ${coef.resolution}px; per-S width tables (REFERENCE.md §1.2). extra: dropout, dropConnect`,
    member: (o) => build(variant, o),
  });
}
