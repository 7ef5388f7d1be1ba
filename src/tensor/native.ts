// Loads the libtorch addon and types its surface. This file is the only place that knows the
// addon's function names; everything above it talks to `native`.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** A native tensor handle: a slot number in the addon's tensor table (see native/src/common.h). */
export type TensorHandle = number & { readonly __tensorHandle: unique symbol };
/** An opaque handle to a native random generator. */
export type GeneratorHandle = { readonly __generatorHandle: unique symbol };

export interface NativeAddon {
  dispose(h: TensorHandle): void;
  isDisposed(h: TensorHandle): boolean;
  rebind(dst: TensorHandle, src: TensorHandle): void;
  liveTensors(): number;
  shape(h: TensorHandle): number[];
  strides(h: TensorHandle): number[];
  dim(h: TensorHandle): number;
  numel(h: TensorHandle): number;
  dtype(h: TensorHandle): number;
  device(h: TensorHandle): string;
  isContiguous(h: TensorHandle, memoryFormat?: number): boolean;
  describe(h: TensorHandle): string;
  sameStorage(a: TensorHandle, b: TensorHandle): boolean;
  fromBytes(
    bytes: ArrayBufferView | ArrayBuffer,
    shape: readonly number[],
    dtype: number,
  ): TensorHandle;
  toBytes(h: TensorHandle): ArrayBuffer;
  view(h: TensorHandle): ArrayBuffer;
  item(h: TensorHandle): number | boolean;
  opLookup(name: string, overload: string): number;
  opSchema(id: number): string;
  hasOp(name: string, overload: string): boolean;
  call(id: number, ...args: unknown[]): unknown;
  callVoid(id: number, ...args: unknown[]): void;
  requiresGrad(h: TensorHandle): boolean;
  setRequiresGrad(h: TensorHandle, on: boolean): void;
  isLeaf(h: TensorHandle): boolean;
  gradFn(h: TensorHandle): string | null;
  grad(h: TensorHandle): TensorHandle | undefined;
  setGrad(h: TensorHandle, g: TensorHandle | null): void;
  retainGrad(h: TensorHandle): void;
  backward(
    outputs: TensorHandle[],
    grads: (TensorHandle | null)[] | null,
    retainGraph?: boolean,
    createGraph?: boolean,
  ): void;
  gradEnabled(): boolean;
  setGradEnabled(on: boolean): void;
  enterInferenceMode(): number;
  exitInferenceMode(): void;
  isInferenceMode(): boolean;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  newGenerator(seed: number, device?: string): GeneratorHandle;
  defaultGenerator(): GeneratorHandle;
  generatorState(g: GeneratorHandle): TensorHandle;
  setGeneratorState(g: GeneratorHandle, state: TensorHandle): void;
  cudaDeviceCount(): number;
  buildInfo(): {
    torchVersion: string;
    cxx11Abi: boolean;
    builtWithCuda: boolean;
    mkldnn: boolean;
    parallelInfo: string;
    config: string;
  };
  heapStats(): { inUse: number; held: number };
  mallocTrim(): boolean;
}

function load(): NativeAddon {
  // dist/src/tensor/native.js → <root>/native/build/Release/divco_native.node
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env.DIVCO_NATIVE,
    join(here, "..", "..", "..", "native", "build", "Release", "divco_native.node"),
    join(here, "..", "..", "native", "build", "Release", "divco_native.node"),
  ].filter((p): p is string => !!p);
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `divco: the native addon is not built (looked in ${candidates.join(", ")}). ` +
        "Run `npm run build:native` (needs libtorch: `apt-get install libtorch-dev`, a PyTorch install, or LIBTORCH=<prefix>).",
    );
  }
  return createRequire(import.meta.url)(path) as NativeAddon;
}

export const native: NativeAddon = load();
