// The addon's c10d functions (native/src/dist.cc), typed. Everything else in src/dist talks to
// `distNative`; the handles are opaque externals that only dist.cc can read.
import { native, type TensorHandle } from "../tensor/native.js";

/** A connected rendezvous (the TCPStore) with this process's heartbeat. */
export type WorldHandle = { readonly __distWorld: unique symbol };
/** A c10d process group. */
export type GroupHandle = { readonly __distGroup: unique symbol };
/** A gradient reducer hooked into the parameters' gradient accumulators. */
export type ReducerHandle = { readonly __distReducer: unique symbol };

export type ReduceOp = "sum" | "avg" | "max" | "min";
export type Backend = "gloo" | "nccl";

export interface DistAddon {
  distAvailable(): { gloo: boolean; nccl: boolean };
  distInitWorld(o: {
    host: string;
    port: number;
    rank: number;
    size: number;
    timeoutMs: number;
  }): Promise<WorldHandle>;
  distStoreSet(w: WorldHandle, key: string, value: string): Promise<void>;
  distStoreGet(w: WorldHandle, key: string): Promise<string>;
  distNewGroup(
    w: WorldHandle,
    o: {
      ranks: number[];
      name: string;
      backend: Backend;
      timeoutMs: number;
      ifname?: string;
      hostname?: string;
    },
  ): Promise<GroupHandle>;
  distDestroy(x: WorldHandle | GroupHandle): void;
  distPeers(w: WorldHandle): Promise<string>;
  distLeave(w: WorldHandle): Promise<void>;
  distAllReduce(g: GroupHandle, tensors: TensorHandle[], op: ReduceOp): Promise<void>;
  distBroadcast(g: GroupHandle, tensors: TensorHandle[], root: number): Promise<void>;
  distAllGather(g: GroupHandle, t: TensorHandle): Promise<TensorHandle[]>;
  distBarrier(g: GroupHandle): Promise<void>;
  distAllGatherGrad(g: GroupHandle, t: TensorHandle): TensorHandle;
  distSyncBatchNorm(
    g: GroupHandle,
    x: TensorHandle,
    weight: TensorHandle | null,
    bias: TensorHandle | null,
    runningMean: TensorHandle | null,
    runningVar: TensorHandle | null,
    momentum: number,
    eps: number,
  ): TensorHandle;
  distReducer(
    g: GroupHandle,
    params: TensorHandle[],
    firstBucketBytes: number,
    bucketBytes: number,
  ): { reducer: ReducerHandle; buckets: number };
  distBackward(
    r: ReducerHandle | null,
    outputs: TensorHandle[],
    grads: (TensorHandle | null)[] | null,
  ): Promise<void>;
  distReleaseReducer(r: ReducerHandle): void;
}

export const distNative = native as unknown as DistAddon;

/** Which c10d backends this build of the addon has (Gloo needs libgloo-dev at build time). */
export function distributedAvailable(): { gloo: boolean; nccl: boolean } {
  // An addon built before dist.cc existed has no distAvailable at all.
  return typeof distNative.distAvailable === "function"
    ? distNative.distAvailable()
    : { gloo: false, nccl: false };
}
