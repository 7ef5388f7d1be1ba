// Execution modes of the ensemble predictor: ways to compute every member's logits for a batch,
// all giving the same numbers (to float rounding):
//   sequential  members one after the other on the calling thread, all intra-op threads each;
//   concurrent  members at the same time: the calling thread and a persistent pool of worker
//               threads that share its weights, the threads divided among them (member_pool.ts);
//   fused       the members as one network with S× channels and groups (fuse.ts);
//   devices     one member per CUDA device, launched from one thread (REFERENCE.md §5's
//               multi-GPU test); kernels are asynchronous, so the devices overlap;
//   streams     one CUDA stream per member on one device (§5's multi-stream test): needs
//               stream bindings the native addon does not have yet — refused with a clear error.
import type { Members } from "../models/members.js";
import type { Tensor } from "../tensor/tensor.js";
import { zeros } from "../tensor/creation.js";
import { inferenceMode } from "../tensor/autograd.js";
import { scope } from "../tensor/scope.js";
import { buildInfo, cudaDeviceCount, getNumThreads, setNumThreads } from "../tensor/runtime.js";
import type { MemoryFormatName } from "../tensor/dtype.js";
import { FusedMembers } from "./fuse.js";
import { MemberPool } from "./member_pool.js";

export type ExecutionMode = "sequential" | "concurrent" | "fused" | "devices" | "streams";
/** An execution mode, or "auto": measure the candidates and keep the fastest (auto.ts). */
export type ModeChoice = ExecutionMode | "auto";

export const EXECUTION_MODES: readonly ExecutionMode[] = [
  "sequential",
  "concurrent",
  "fused",
  "devices",
  "streams",
];
export const MODE_CHOICES: readonly ModeChoice[] = [...EXECUTION_MODES, "auto"];

/** The modes that can run on this machine without a GPU. */
export const CPU_MODES: readonly ExecutionMode[] = ["sequential", "concurrent", "fused"];

export interface EngineOptions {
  /** Intra-op threads in all (divided among the lanes in concurrent mode). */
  threads: number;
  /**
   * Concurrent mode: members run side by side in this many lanes, the calling thread and
   * lanes − 1 worker threads (default min(S, threads)).
   */
  lanes?: number;
  /** "cpu" or "cuda:N": where the members' weights are. */
  device: string;
  memoryFormat: MemoryFormatName;
  /** One input image's shape [C, H, W] (fusion traces one forward pass at this size). */
  inputShape: [number, number, number];
}

/** One execution mode, ready to run: every member's logits for a batch. */
export interface Engine {
  readonly mode: ExecutionMode;
  /** Intra-op threads in all. */
  readonly threads: number;
  /** How the work is laid out ("2 lanes (this thread + 1 worker) × 1 thread", …). */
  readonly layout: string;
  /** Every member's logits [N, C] for the batch x (on the engine's device); the caller owns them. */
  run(x: Tensor): Promise<Tensor[]>;
  /** Stops workers and frees what the engine made (never the members). */
  close(): Promise<void>;
}

/** An execution mode this build or machine cannot run. */
export class ModeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModeUnavailableError";
  }
}

/** The calling thread's intra-op threads, set only when they differ (a native call each). */
function useThreads(n: number): void {
  if (getNumThreads() !== n) setNumThreads(n);
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

class SequentialEngine implements Engine {
  readonly mode = "sequential";
  readonly layout: string;

  constructor(
    private readonly members: Members,
    readonly threads: number,
  ) {
    this.layout = `${plural(members.split, "member")} in turn, ${plural(threads, "thread")}`;
  }

  run(x: Tensor): Promise<Tensor[]> {
    useThreads(this.threads);
    return Promise.resolve(inferenceMode(() => scope(() => this.members.forwardEach(x))));
  }

  async close(): Promise<void> {}
}

class FusedEngine implements Engine {
  readonly mode = "fused";
  readonly layout: string;

  constructor(
    private readonly fused: FusedMembers,
    readonly threads: number,
  ) {
    this.layout = `one network of ${plural(fused.split, "member")}, ${plural(threads, "thread")}`;
  }

  run(x: Tensor): Promise<Tensor[]> {
    useThreads(this.threads);
    return Promise.resolve(this.fused.forward(x));
  }

  async close(): Promise<void> {
    this.fused.dispose();
  }
}

/**
 * Members side by side in L lanes (L = min(S, threads), or `lanes`): lane 0 is the calling
 * thread, lanes 1…L−1 are pool workers; member i runs in lane i mod L with threads/L intra-op
 * threads. The calling thread would otherwise only wait, so it computes its own members while
 * the workers compute theirs: one message round trip fewer, one thread fewer.
 */
class ConcurrentEngine implements Engine {
  readonly mode = "concurrent";
  readonly layout: string;

  constructor(
    private readonly members: Members,
    /** The calling thread's members, and the pool's (null when every member is the caller's). */
    private readonly own: number[],
    private readonly pool: MemberPool | null,
    private readonly threadsPerLane: number,
    readonly threads: number,
  ) {
    const lanes = 1 + (pool?.assignment.length ?? 0);
    this.layout = `${plural(lanes, "lane")} (this thread + ${plural(lanes - 1, "worker")}) × ${plural(threadsPerLane, "thread")}`;
  }

  static async start(members: Members, o: EngineOptions): Promise<ConcurrentEngine> {
    const S = members.split;
    const lanes = Math.max(1, Math.min(o.lanes ?? Math.min(S, o.threads), S));
    const threadsPerLane = Math.max(1, Math.floor(o.threads / lanes));
    const lane = (i: number) => i % lanes;
    const all = Array.from({ length: S }, (_, i) => i);
    const own = all.filter((i) => lane(i) === 0);
    const others = all.filter((i) => lane(i) !== 0);
    const pool = others.length
      ? await MemberPool.start(members, {
          threads: threadsPerLane * (lanes - 1),
          workers: lanes - 1,
          members: others,
        })
      : null;
    return new ConcurrentEngine(members, own, pool, threadsPerLane, o.threads);
  }

  async run(x: Tensor): Promise<Tensor[]> {
    // Posted before this thread starts on its own members.
    const theirs = this.pool?.forward(x, "inference");
    let mine: Tensor[];
    try {
      useThreads(this.threadsPerLane);
      mine = inferenceMode(() =>
        scope(() => this.own.map((i) => this.members.models.items[i].forward(x))),
      );
    } catch (e) {
      await theirs?.catch(() => undefined);
      throw e;
    }
    let borrowed: Tensor[] = [];
    try {
      if (theirs) borrowed = await theirs;
    } catch (e) {
      for (const t of mine) t.dispose();
      throw e;
    }
    // The workers own their outputs until the pool's next request: copy them out now.
    const out = new Array<Tensor>(this.members.split);
    this.own.forEach((i, k) => (out[i] = mine[k]));
    const copies = inferenceMode(() => scope(() => borrowed.map((t) => t.clone())));
    this.pool?.indices.forEach((i, k) => (out[i] = copies[k]));
    return out;
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/** One member per CUDA device (member i on cuda:(i mod devices)); results gathered on `device`. */
class DevicesEngine implements Engine {
  readonly mode = "devices";
  readonly layout: string;

  constructor(
    private readonly members: Members,
    private readonly devices: string[],
    private readonly home: string,
    readonly threads: number,
  ) {
    this.layout = `${plural(members.split, "member")} on ${devices.join(", ")}`;
  }

  run(x: Tensor): Promise<Tensor[]> {
    return Promise.resolve(
      inferenceMode(() =>
        scope(() => {
          // Kernel launches return at once, so member i+1 starts while member i still runs.
          const outs = this.members.models.items.map((m, i) => {
            const dev = this.devices[i % this.devices.length];
            const xi = dev === x.device ? x : x.to({ device: dev as Tensor["device"] });
            return m.forward(xi);
          });
          return outs.map((o) =>
            o.device === this.home ? o : o.to({ device: this.home as Tensor["device"] }),
          );
        }),
      ),
    );
  }

  async close(): Promise<void> {}
}

function requireCuda(mode: string): number {
  const info = buildInfo();
  if (!info.builtWithCuda)
    throw new ModeUnavailableError(
      `mode "${mode}" needs a CUDA build of the native addon; this one was built against a CPU-only libtorch (${info.torchVersion}). Rebuild with a CUDA libtorch (npm run build:native) on a machine with a GPU, or use sequential, concurrent or fused`,
    );
  const n = cudaDeviceCount();
  if (n === 0)
    throw new ModeUnavailableError(
      `mode "${mode}" needs a CUDA device; none is visible (check CUDA_VISIBLE_DEVICES and the driver)`,
    );
  return n;
}

/**
 * Starts the engine for `mode` over `members` (in eval mode, weights already on o.device).
 * Throws ModeUnavailableError for a mode this build, machine or model cannot run, and
 * FusionError (fuse.ts) for a model the fused mode cannot fuse.
 */
export async function startEngine(
  mode: ExecutionMode,
  members: Members,
  o: EngineOptions,
): Promise<Engine> {
  members.eval();
  const onCuda = o.device.startsWith("cuda");
  switch (mode) {
    case "sequential":
      return new SequentialEngine(members, o.threads);
    case "fused": {
      const probe = zeros([1, ...o.inputShape], { device: o.device as Tensor["device"] });
      try {
        const fused = FusedMembers.build(members.models.items, probe, members.arch);
        if (o.memoryFormat !== "contiguous") fused.net.to({ memoryFormat: o.memoryFormat });
        return new FusedEngine(fused, o.threads);
      } finally {
        probe.dispose();
      }
    }
    case "concurrent":
      if (onCuda)
        throw new ModeUnavailableError(
          `mode "concurrent" runs members on CPU worker threads; on ${o.device} use devices, streams or fused`,
        );
      return ConcurrentEngine.start(members, o);
    case "devices": {
      const n = requireCuda(mode);
      const devices = Array.from({ length: Math.min(n, members.split) }, (_, i) => `cuda:${i}`);
      members.models.items.forEach((m, i) =>
        m.to({ device: devices[i % devices.length] as Tensor["device"] }),
      );
      return new DevicesEngine(members, devices, devices[0], o.threads);
    }
    case "streams":
      requireCuda(mode);
      throw new ModeUnavailableError(
        'mode "streams" needs CUDA stream bindings, which the native addon does not have yet; use "devices" (one member per GPU) or "fused" on one GPU',
      );
  }
}
