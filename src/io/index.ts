// Public API of the serialization layer. Only tensors.ts touches the tensor engine; the rest
// reads nothing of it but the dtype table (src/tensor/dtype.ts).
export {
  type DType,
  type TensorRecord,
  DTYPES,
  isDType,
  itemSize,
  numel,
  shapeProblem,
  validateRecord,
  makeRecord,
} from "./record.js";
export {
  type AtomicWriteOptions,
  type ChunkSink,
  type AsyncChunkSink,
  AtomicWriteError,
  writeFileAtomic,
  writeFileAtomicSync,
  writeFileAtomicWith,
  writeFileAtomicWithSync,
} from "./atomic.js";
export {
  type Metadata,
  type TensorMap,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsContents,
  MAX_HEADER_SIZE,
  SafetensorsError,
  SafetensorsFile,
  openSafetensors,
  readSafetensors,
  encodeSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
} from "./safetensors.js";
export {
  type PthObject,
  type StateDict,
  PthTensor,
  PthError,
  isTensorRecord,
  loadPth,
  loadPthStateDict,
  extractStateDict,
  materializeView,
  pyToJSON,
} from "./pth.js";
export { PyGlobal, PyObject, PickleError, unpickle } from "./pickle.js";
export { ZipError } from "./zip.js";
export { recordToTensor, tensorToRecord, saveTensors, loadTensors } from "./tensors.js";
export {
  type Lock,
  type LockHolder,
  type AcquireOptions,
  LockedError,
  acquireLock,
  readLockHolder,
  holderAlive,
  describeHolder,
} from "./lock.js";
