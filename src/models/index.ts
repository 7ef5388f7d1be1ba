// The model zoo: importing this module registers every family.
export { NUM_CLASSES, DATASET_KINDS, CIFAR_LIKE } from "../data/stats.js";
export {
  register,
  list,
  lookup,
  create,
  type ArchInfo,
  type ArchEntry,
  type BuildOptions,
  type CreateOptions,
  type DatasetKind,
} from "./registry.js";
export { resolveArch, ArchError } from "./registry.js";
export { Members } from "./members.js";
export { ensemble, ENSEMBLE_RULES, type EnsembleRule } from "./ensemble.js";
// Families (each file registers its variants):
import "./resnet.js";
import "./senet.js";
import "./shake_shake.js";
import "./pyramidnet.js";
import "./densenet.js";
import "./efficientnet.js";
import "./resnexst.js";
import "./resnest.js";
