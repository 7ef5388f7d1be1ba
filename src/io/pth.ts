// Import PyTorch checkpoints written by `torch.save` — without Python and without ever
// executing the pickle (see pickle.ts).
//
// Two container formats exist:
//  - zip (torch ≥ 1.6 default): `<prefix>/data.pkl` is a pickle whose tensors refer to
//    storages by persistent id ('storage', torch.FloatStorage, key, location, numel); the
//    raw little-endian bytes of storage `key` are the entry `<prefix>/data/<key>`.
//    `<prefix>/byteorder` says "big" on big-endian writers. The prefix is the archive
//    name torch chose (often "archive", or the file's stem), so we discover it.
//  - legacy (`_use_new_zipfile_serialization=False`): five pickles in a row (magic number,
//    protocol, sys info, the object, the storage key list) followed by each storage as
//    u64 element count + bytes.
// Tensors are rebuilt from (storage, offset, size, stride) into C-contiguous TensorRecords,
// so transposed or sliced views come out as ordinary dense tensors.
import { DTYPE_INFO, DTYPES } from "../tensor/dtype.js";
import { type DType, type TensorRecord, itemSize, numel } from "./record.js";
import { PyGlobal, PyObject, type PyFunction, unpickle } from "./pickle.js";
import { type ByteSource, ZipError, ZipReader, bufferSource, fileSource } from "./zip.js";

/** A tensor from a checkpoint: a TensorRecord plus what torch said about it. */
export class PthTensor implements TensorRecord {
  constructor(
    readonly dtype: DType,
    readonly shape: number[],
    readonly data: Uint8Array,
    /** True for nn.Parameter / tensors saved with requires_grad. */
    public requiresGrad = false,
  ) {}
}

export function isTensorRecord(x: unknown): x is TensorRecord {
  return x instanceof PthTensor;
}

export class PthError extends Error {
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = "PthError";
  }
}

/** Storage class name → dtype; an UntypedStorage holds plain bytes. */
const STORAGE_DTYPES: Record<string, DType> = {
  ...Object.fromEntries(DTYPES.map((d) => [DTYPE_INFO[d].torchStorage, d])),
  UntypedStorage: "u8",
};

/** A storage as referenced from the pickle; its bytes are fetched on first use. */
interface Storage {
  key: string;
  dtype: DType;
  /** Little-endian bytes of the whole storage. */
  bytes(): Uint8Array;
}

function storageDtype(file: string, type: unknown): DType {
  const name = type instanceof PyGlobal ? type.name : String(type);
  const dtype = STORAGE_DTYPES[name];
  if (dtype === undefined) {
    throw new PthError(
      file,
      `storage type torch.${name} is not supported (supported: ${Object.keys(STORAGE_DTYPES).join(", ")})`,
    );
  }
  return dtype;
}

/** Reverse each item's bytes, for checkpoints written on big-endian machines. */
function swapBytes(b: Uint8Array, size: number): Uint8Array {
  if (size === 1) return b;
  const out = new Uint8Array(b.byteLength);
  for (let i = 0; i < b.byteLength; i += size)
    for (let j = 0; j < size; j++) out[i + j] = b[i + size - 1 - j];
  return out;
}

function asInts(file: string, what: string, x: unknown): number[] {
  if (
    !Array.isArray(x) ||
    !x.every((v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0)
  ) {
    throw new PthError(
      file,
      `tensor ${what} is not a tuple of non-negative integers: ${String(x)}`,
    );
  }
  return x as number[];
}

/**
 * Copy the view (offset, size, stride) — in elements — out of a storage into a dense
 * C-contiguous buffer. Bounds are checked so a corrupt file cannot read outside the storage.
 */
export function materializeView(
  storage: Uint8Array,
  isz: number,
  offset: number,
  size: number[],
  stride: number[],
  what = "tensor",
): Uint8Array {
  if (size.length !== stride.length)
    throw new RangeError(`${what}: size has ${size.length} dims, stride ${stride.length}`);
  const n = numel(size);
  if (n === 0) return new Uint8Array(0);
  let last = offset;
  for (let d = 0; d < size.length; d++) last += (size[d] - 1) * stride[d];
  const storageNumel = storage.byteLength / isz;
  if (last >= storageNumel) {
    throw new RangeError(
      `${what}: view reaches element ${last} of a storage with only ${storageNumel} elements`,
    );
  }
  // Contiguous in C order (dims of size 1 may carry any stride)?
  let expect = 1;
  let contiguous = true;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= size[d];
  }
  const start = offset * isz;
  if (contiguous) {
    // A view of the whole storage can share its buffer; a part is copied so the record
    // does not keep a large shared storage alive.
    // (Uint8Array's slice copies; Buffer's would not, and storages may be Buffers.)
    return start === 0 && n * isz === storage.byteLength
      ? storage
      : Uint8Array.prototype.slice.call(storage, start, start + n * isz);
  }
  const out = new Uint8Array(n * isz);
  const nd = size.length;
  const inner = size[nd - 1];
  const innerStride = stride[nd - 1] * isz;
  const idx = new Array<number>(nd - 1).fill(0);
  let src = start;
  let dst = 0;
  for (let row = 0, rows = n / inner; row < rows; row++) {
    if (innerStride === isz) {
      out.set(storage.subarray(src, src + inner * isz), dst);
      dst += inner * isz;
    } else {
      for (let i = 0, s = src; i < inner; i++, s += innerStride)
        for (let b = 0; b < isz; b++) out[dst++] = storage[s + b];
    }
    // Advance the odometer over the outer dims.
    for (let d = nd - 2; d >= 0; d--) {
      src += stride[d] * isz;
      if (++idx[d] < size[d]) break;
      src -= size[d] * stride[d] * isz;
      idx[d] = 0;
    }
  }
  return out;
}

/** JS implementations of the torch rebuild functions a state dict needs. */
function torchFunctions(file: string): Map<string, PyFunction> {
  const rebuild = (args: unknown[]): PthTensor => {
    const [storage, offset, size, stride, requiresGrad] = args;
    if (storage === null || typeof storage !== "object" || !("bytes" in storage)) {
      throw new PthError(file, "tensor does not refer to a storage");
    }
    const st = storage as Storage;
    const shape = asInts(file, "size", size);
    const strides = asInts(file, "stride", stride);
    const off = asInts(file, "offset", [offset])[0];
    const data = materializeView(
      st.bytes(),
      itemSize(st.dtype),
      off,
      shape,
      strides,
      `${file}: tensor on storage ${st.key}`,
    );
    return new PthTensor(st.dtype, [...shape], data, requiresGrad === true);
  };
  const parameter = (args: unknown[]): unknown => {
    const [data, requiresGrad] = args;
    if (data instanceof PthTensor) data.requiresGrad = requiresGrad !== false;
    return data;
  };
  return new Map<string, PyFunction>([
    ["torch._utils._rebuild_tensor", rebuild],
    ["torch._utils._rebuild_tensor_v2", rebuild],
    ["torch._utils._rebuild_parameter", parameter],
    ["torch._utils._rebuild_parameter_with_state", parameter],
    // Tensor subclasses / tensors with Python attributes: rebuild the plain tensor.
    [
      "torch._tensor._rebuild_from_type_v2",
      (args) =>
        typeof args[0] === "function"
          ? (args[0] as PyFunction)((args[2] as unknown[]) ?? [])
          : new PyObject(args[0], args),
    ],
  ]);
}

/** What loadPth returns: the unpickled object tree (dicts are Maps, tensors PthTensors). */
export type PthObject = unknown;

/** Load a checkpoint written by torch.save, from a path or the file's bytes. */
export function loadPth(source: string | Uint8Array, name?: string): PthObject {
  const file = typeof source === "string" ? source : (name ?? "<buffer>");
  let src: ByteSource;
  try {
    src = typeof source === "string" ? fileSource(source) : bufferSource(source, file);
  } catch (e) {
    throw new PthError(file, `cannot open: ${(e as Error).message}`);
  }
  try {
    if (src.size < 4) throw new PthError(file, "file is too small to be a PyTorch checkpoint");
    const head = src.read(0, Math.min(src.size, 512));
    if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04)
      return loadZip(src, file);
    if (head[0] === 0x80) return loadLegacy(src.read(0, src.size), file);
    if (head.byteLength >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
      throw new PthError(
        file,
        "this is the pre-1.0 tar checkpoint format; load it with torch and re-save it with torch.save from a current version",
      );
    }
    throw new PthError(
      file,
      "not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy pickle)",
    );
  } finally {
    src.close();
  }
}

function loadZip(src: ByteSource, file: string): PthObject {
  let zip: ZipReader;
  try {
    zip = new ZipReader(src);
  } catch (e) {
    throw new PthError(
      file,
      e instanceof ZipError ? e.detail : `corrupt zip container: ${(e as Error).message}`,
    );
  }
  const pkl = zip.names().find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl === undefined)
    throw new PthError(file, "zip archive has no <name>/data.pkl: not a torch.save checkpoint");
  const prefix = pkl.slice(0, -"data.pkl".length);
  let bigEndian = false;
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== "little" && order !== "big")
      throw new PthError(file, `unknown byteorder ${JSON.stringify(order)}`);
    bigEndian = order === "big";
  }
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new PthError(file, `unsupported persistent id ${String(pid)}`);
    }
    const key = String(pid[2]);
    const dtype = storageDtype(file, pid[1]);
    let st = storages.get(key);
    if (st === undefined) {
      let cached: Uint8Array | undefined;
      const entry = `${prefix}data/${key}`;
      const count = Number(pid[4]);
      st = {
        key,
        dtype,
        bytes: () => {
          if (cached === undefined) {
            if (!zip.has(entry))
              throw new PthError(file, `storage ${key} is missing (no ${entry} in the archive)`);
            const raw = zip.read(entry);
            const want = count * itemSize(dtype);
            if (Number.isSafeInteger(want) && raw.byteLength < want) {
              throw new PthError(
                file,
                `storage ${key} has ${raw.byteLength} bytes, expected ${want}`,
              );
            }
            cached = bigEndian ? swapBytes(raw, itemSize(dtype)) : raw;
          }
          return cached;
        },
      };
      storages.set(key, st);
    }
    return st;
  };
  return unpickle(zip.read(pkl), {
    source: `${file}:${pkl}`,
    persistentLoad,
    functions: torchFunctions(file),
  }).value;
}

/** Magic number torch's legacy serializer writes first. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function loadLegacy(bytes: Uint8Array, file: string): PthObject {
  const notLegacy = (): never => {
    throw new PthError(file, "a pickle but not a torch.save checkpoint (no torch magic number)");
  };
  let r: { value: unknown; end: number };
  try {
    r = unpickle(bytes, { source: file });
  } catch {
    return notLegacy();
  }
  if (r.value !== LEGACY_MAGIC) return notLegacy();
  r = unpickle(bytes, { source: file }, r.end); // protocol version
  if (r.value !== 1001)
    throw new PthError(file, `unsupported legacy protocol version ${String(r.value)}`);
  r = unpickle(bytes, { source: file }, r.end); // sys info
  const sysInfo = r.value instanceof Map ? r.value : new Map();
  const bigEndian = sysInfo.get("little_endian") === false;
  const objStart = r.end;

  // The storages' bytes follow the object pickle, so a first pass only learns which
  // storages exist and their dtypes (rebuild calls stay inert), then we locate the bytes.
  const dtypes = new Map<string, DType>();
  const scan = unpickle(
    bytes,
    {
      source: file,
      persistentLoad: (pid) => {
        if (Array.isArray(pid) && pid[0] === "storage")
          dtypes.set(String(pid[2]), storageDtype(file, pid[1]));
        return null;
      },
    },
    objStart,
  );
  r = unpickle(bytes, { source: file }, scan.end);
  if (!Array.isArray(r.value))
    throw new PthError(file, "legacy checkpoint has no storage key list");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let pos = r.end;
  for (const k of r.value) {
    const key = String(k);
    const dtype = dtypes.get(key);
    if (dtype === undefined) throw new PthError(file, `storage ${key} is listed but never used`);
    if (pos + 8 > bytes.byteLength)
      throw new PthError(file, `storage ${key} is missing (truncated file?)`);
    const n = Number(dv.getBigUint64(pos, !bigEndian));
    const len = n * itemSize(dtype);
    pos += 8;
    if (pos + len > bytes.byteLength) throw new PthError(file, `storage ${key} is truncated`);
    const raw = bytes.subarray(pos, pos + len);
    data.set(key, bigEndian ? swapBytes(raw, itemSize(dtype)) : raw);
    pos += len;
  }

  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== "storage")
      throw new PthError(file, `unsupported persistent id ${String(pid)}`);
    const key = String(pid[2]);
    const dtype = storageDtype(file, pid[1]);
    const all = data.get(key);
    if (all === undefined) throw new PthError(file, `storage ${key} has no data`);
    const view = pid[5];
    if (Array.isArray(view) && view.length === 3) {
      // (view_key, offset, size): a storage that is a slice of a root storage (in elements).
      const isz = itemSize(dtype);
      const [vkey, voff, vsize] = view as [unknown, number, number];
      return {
        key: String(vkey),
        dtype,
        bytes: () => all.subarray(voff * isz, (voff + vsize) * isz),
      };
    }
    return { key, dtype, bytes: () => all };
  };
  return unpickle(
    bytes,
    { source: file, persistentLoad, functions: torchFunctions(file) },
    objStart,
  ).value;
}

// ---------------------------------------------------------------------------------------
// State dicts

export interface StateDict {
  /** Parameter/buffer name → tensor, in checkpoint order, `module.` prefix removed. */
  tensors: Map<string, TensorRecord>;
  /** Everything that is not a state-dict tensor: epoch, best_acc1, arch, optimizer, ... */
  others: Map<string, unknown>;
  /** Where the state dict was: "" (top level), "state_dict" or "model". */
  location: string;
  /** "module." when a DataParallel prefix was stripped, else "". */
  strippedPrefix: string;
}

/**
 * Find the model state dict in a loaded checkpoint: the top-level dict itself, or the
 * dict under "state_dict" or "model" (the usual training-script layouts). The
 * DataParallel/DistributedDataParallel prefix "module." is stripped when every tensor
 * name carries it (stripping it from some names only would corrupt a model that really
 * has a submodule called "module").
 */
export function extractStateDict(obj: PthObject, source = "checkpoint"): StateDict {
  if (!(obj instanceof Map)) {
    throw new PthError(source, `expected a dict at the top level, found ${describe(obj)}`);
  }
  let location = "";
  let dict: Map<unknown, unknown> = obj;
  const others = new Map<string, unknown>();
  for (const key of ["state_dict", "model"]) {
    const inner = obj.get(key);
    if (inner instanceof Map && [...inner.values()].some(isTensorRecord)) {
      location = key;
      dict = inner;
      for (const [k, v] of obj) if (k !== key) others.set(String(k), v);
      break;
    }
  }
  const found: [string, TensorRecord][] = [];
  for (const [k, v] of dict) {
    if (typeof k === "string" && isTensorRecord(v)) found.push([k, v]);
    else others.set(location === "" ? String(k) : `${location}.${String(k)}`, v);
  }
  if (found.length === 0) {
    if (obj.size === 0)
      throw new PthError(
        source,
        "no state dict found: the checkpoint holds an empty dict (nothing was saved in it)",
      );
    const keys = [...obj.keys()].map(String);
    throw new PthError(
      source,
      `no state dict found (no tensors at the top level or under "state_dict"/"model"; top-level keys: ${keys.slice(0, 10).join(", ")}${keys.length > 10 ? ", …" : ""})`,
    );
  }
  const prefix = "module.";
  const strip = found.every(([k]) => k.startsWith(prefix));
  const tensors = new Map<string, TensorRecord>();
  for (const [k, v] of found) {
    const name = strip ? k.slice(prefix.length) : k;
    if (tensors.has(name))
      throw new PthError(source, `tensor name ${JSON.stringify(name)} occurs twice`);
    tensors.set(name, v);
  }
  return { tensors, others, location, strippedPrefix: strip ? prefix : "" };
}

/** loadPth + extractStateDict. */
export function loadPthStateDict(source: string | Uint8Array, name?: string): StateDict {
  const file = typeof source === "string" ? source : (name ?? "<buffer>");
  return extractStateDict(loadPth(source, name), file);
}

function describe(x: unknown): string {
  if (x === null) return "None";
  if (Array.isArray(x)) return "a list/tuple";
  if (x instanceof PthTensor) return "a tensor";
  if (x instanceof PyObject || x instanceof PyGlobal) return String(x);
  return typeof x;
}

/**
 * A JSON-friendly copy of unpickled data (for logging the non-tensor entries): Maps with
 * string keys become objects, bigints strings, tensors a short description, bytes lengths.
 */
export function pyToJSON(x: unknown): unknown {
  if (x === null || typeof x === "string" || typeof x === "number" || typeof x === "boolean")
    return x;
  if (typeof x === "bigint") return x.toString();
  if (x instanceof PthTensor) return { tensor: x.dtype, shape: x.shape };
  if (x instanceof Uint8Array) return { bytes: x.byteLength };
  if (Array.isArray(x)) return x.map(pyToJSON);
  if (x instanceof Set) return [...x].map(pyToJSON);
  if (x instanceof Map) return Object.fromEntries([...x].map(([k, v]) => [String(k), pyToJSON(v)]));
  return String(x);
}
