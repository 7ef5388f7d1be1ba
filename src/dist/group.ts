// Process groups over c10d: the world (rendezvous through rank 0's TCPStore, a heartbeat per
// rank) and its groups (Gloo on CPU, NCCL on CUDA). Every collective returns a Promise — it runs
// on a native thread, never on the JavaScript thread — and fails after the world's timeout with
// an error naming the rank that stopped responding.
import { Tensor } from "../tensor/tensor.js";
import { DistError, localAddressToward, type DistEnv } from "./env.js";
import {
  distNative,
  distributedAvailable,
  type Backend,
  type GroupHandle,
  type ReduceOp,
  type WorldHandle,
} from "./native.js";

export interface WorldOptions {
  /** Limit on the rendezvous and on every collective, in milliseconds. */
  timeoutMs: number;
  /** Backend of the world group and of groups made later (default gloo). */
  backend?: Backend;
  /** Network interface for Gloo (default: GLOO_SOCKET_IFNAME, else the one routing to the master). */
  ifname?: string;
  /** Where this rank's tensors for collectives live: cpu for Gloo, its GPU for NCCL. Default cpu. */
  device?: string;
}

/** Wraps a native rejection as a DistError, prefixed with `what` (collectives name themselves). */
async function dist<T>(what: string | null, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    const message = (e as Error).message;
    throw new DistError(what ? `${what}: ${message}` : message);
  }
}

export class ProcessGroup {
  private handle: GroupHandle | null;

  constructor(
    handle: GroupHandle,
    /** Global ranks of the members, in group-rank order. */
    readonly ranks: readonly number[],
    /** This process's rank within the group. */
    readonly rank: number,
    readonly name: string,
    /** Where tensors exchanged in this group must be (NCCL: the rank's GPU). */
    readonly device: string,
  ) {
    this.handle = handle;
  }

  get size(): number {
    return this.ranks.length;
  }

  private get live(): GroupHandle {
    if (!this.handle) throw new DistError(`process group ${this.name} was destroyed`);
    return this.handle;
  }

  /** Reduces `tensors` in place over the group (avg: the sum divided by the group's size). */
  allReduce(tensors: Tensor[], op: ReduceOp = "sum"): Promise<void> {
    return dist(
      null,
      distNative.distAllReduce(
        this.live,
        tensors.map((t) => t.handle),
        op,
      ),
    );
  }

  /** Overwrites `tensors` with group rank `root`'s. */
  broadcast(tensors: Tensor[], root = 0): Promise<void> {
    return dist(
      null,
      distNative.distBroadcast(
        this.live,
        tensors.map((t) => t.handle),
        root,
      ),
    );
  }

  /** Every group member's `t` (same shape everywhere), in group-rank order; no autograd. */
  async allGather(t: Tensor): Promise<Tensor[]> {
    const handles = await dist(null, distNative.distAllGather(this.live, t.handle));
    return handles.map((h) => new Tensor(h));
  }

  barrier(): Promise<void> {
    return dist(null, distNative.distBarrier(this.live));
  }

  /**
   * stack(every member's t), differentiable: the gradient of this rank's t is the sum over the
   * group of the gradients of its slot (each rank's loss depends on every rank's t). Blocks this
   * thread until all members have arrived (bounded by the timeout): it exists for code inside a
   * synchronous forward, such as SyncBN's statistics.
   */
  allGatherWithGrad(t: Tensor): Tensor {
    try {
      return new Tensor(distNative.distAllGatherGrad(this.live, t.handle));
    } catch (e) {
      throw new DistError((e as Error).message);
    }
  }

  /**
   * Training-mode batch normalisation of x [N, C, H, W] with the statistics of every group
   * member's batch (SyncBN, sync_bn.ts): one native autograd node that all-gathers the
   * statistics in forward and all-reduces two per-channel sums in backward, blocking this thread
   * for each (bounded by the timeout). Updates the running statistics in place.
   */
  syncBatchNorm(
    x: Tensor,
    p: {
      weight: Tensor | null;
      bias: Tensor | null;
      runningMean: Tensor | null;
      runningVar: Tensor | null;
      momentum: number;
      eps: number;
    },
  ): Tensor {
    try {
      return new Tensor(
        distNative.distSyncBatchNorm(
          this.live,
          x.handle,
          p.weight?.handle ?? null,
          p.bias?.handle ?? null,
          p.runningMean?.handle ?? null,
          p.runningVar?.handle ?? null,
          p.momentum,
          p.eps,
        ),
      );
    } catch (e) {
      throw new DistError((e as Error).message);
    }
  }

  /** The native handle, for the reducer. */
  get nativeHandle(): GroupHandle {
    return this.live;
  }

  /** Releases the group (waits for its queued work). Idempotent. */
  destroy(): void {
    if (this.handle) distNative.distDestroy(this.handle);
    this.handle = null;
  }
}

export class World {
  private groups = 0;
  private readonly made: ProcessGroup[] = [];

  private constructor(
    private handle: WorldHandle | null,
    readonly env: DistEnv,
    readonly group: ProcessGroup,
    private readonly groupOptions: {
      backend: Backend;
      timeoutMs: number;
      ifname?: string;
      hostname: string;
    },
    private readonly device: string,
  ) {}

  get rank(): number {
    return this.env.rank;
  }

  get size(): number {
    return this.env.worldSize;
  }

  get timeoutMs(): number {
    return this.groupOptions.timeoutMs;
  }

  get backend(): Backend {
    return this.groupOptions.backend;
  }

  /**
   * Joins the rendezvous at MASTER_ADDR:MASTER_PORT (rank 0 hosts the store there) and connects
   * the world group. Resolves once every rank has joined; fails after `timeoutMs` with what to
   * check (port in use, master unreachable, ranks missing).
   */
  static async init(env: DistEnv, o: WorldOptions): Promise<World> {
    const backend = o.backend ?? "gloo";
    const available = distributedAvailable();
    if (!available.gloo)
      throw new DistError(
        "distributed training needs c10d's Gloo backend, and this build of the addon has none: install Debian's libgloo-dev (scripts/setup.sh does) and rebuild with `npm run build:native`",
      );
    if (backend === "nccl" && !available.nccl)
      throw new DistError(
        "the NCCL backend is not in this build (it needs a CUDA libtorch and nccl.h at build time); train on CPU with Gloo",
      );
    if (!(Number.isInteger(o.timeoutMs) && o.timeoutMs >= 1))
      throw new DistError(
        `the distributed timeout must be a positive number of ms, got ${o.timeoutMs}`,
      );
    const ifname = o.ifname ?? (process.env.GLOO_SOCKET_IFNAME || undefined);
    const hostname = ifname ? "" : await localAddressToward(env.masterAddr);
    const handle = await dist(
      "rendezvous",
      distNative.distInitWorld({
        host: env.masterAddr,
        port: env.masterPort,
        rank: env.rank,
        size: env.worldSize,
        timeoutMs: o.timeoutMs,
      }),
    );
    const groupOptions = { backend, timeoutMs: o.timeoutMs, ifname, hostname };
    const ranks = Array.from({ length: env.worldSize }, (_, i) => i);
    let group: ProcessGroup;
    try {
      const g = await dist(
        null,
        distNative.distNewGroup(handle, { ranks, name: "world", ...groupOptions }),
      );
      group = new ProcessGroup(g, ranks, env.rank, "world", o.device ?? "cpu");
    } catch (e) {
      distNative.distDestroy(handle);
      throw e;
    }
    return new World(handle, env, group, groupOptions, o.device ?? "cpu");
  }

  private get live(): WorldHandle {
    if (!this.handle) throw new DistError("the distributed world was destroyed");
    return this.handle;
  }

  /**
   * A group of the global `ranks` (like torch.distributed.new_group): every rank of the world
   * calls it with the same arguments in the same order; those outside `ranks` get null.
   */
  async newGroup(ranks: number[]): Promise<ProcessGroup | null> {
    const name = `g${++this.groups}-${ranks.join("_")}`;
    for (const r of ranks)
      if (!(Number.isInteger(r) && r >= 0 && r < this.size))
        throw new DistError(`newGroup: rank ${r} is outside the world of ${this.size}`);
    if (new Set(ranks).size !== ranks.length)
      throw new DistError(`newGroup: ranks ${ranks.join(",")} repeat`);
    const me = ranks.indexOf(this.rank);
    if (me < 0) return null;
    const g = await dist(
      null,
      distNative.distNewGroup(this.live, { ranks, name, ...this.groupOptions }),
    );
    const group = new ProcessGroup(g, ranks, me, name, this.device);
    this.made.push(group);
    return group;
  }

  /** Publishes `value` under `key` in the rendezvous store. */
  set(key: string, value: string): Promise<void> {
    return dist(null, distNative.distStoreSet(this.live, `divco/user/${key}`, value));
  }

  /** Waits (up to the timeout) for `key` in the rendezvous store. */
  get(key: string): Promise<string> {
    return dist(null, distNative.distStoreGet(this.live, `divco/user/${key}`));
  }

  /** Which ranks stopped responding, as a sentence ("" when every rank beats). Takes ~1.5 s. */
  deadPeers(): Promise<string> {
    return distNative.distPeers(this.live);
  }

  /**
   * The orderly end of a run, once every rank is done (after a barrier): the groups are released,
   * then every rank leaves the store before rank 0, which hosts it, closes it.
   */
  async leave(): Promise<void> {
    for (const g of this.made.splice(0)) g.destroy();
    this.group.destroy();
    const handle = this.handle;
    this.handle = null;
    if (handle) await dist(null, distNative.distLeave(handle));
  }

  /** Releases the groups and the rendezvous at once (after a failure). Idempotent. */
  destroy(): void {
    for (const g of this.made.splice(0)) g.destroy();
    this.group.destroy();
    if (this.handle) distNative.distDestroy(this.handle);
    this.handle = null;
  }
}
