// A training run spread over processes (DESIGN.md §7), as the phases of trainer.ts see it:
//
//   joinDistributed   the rendezvous: from the torchrun environment (RANK, WORLD_SIZE, ...)
//   agreeOnConfig     every rank's resolved config equals rank 0's (arch, S, seed, ...), or
//                     every rank stops with the differences before training starts
//   placement         this rank's threads, loader workers, device, shard and member
//   start             rank 0 alone reads the run directory: it restores `last` and hands the
//                     state to the others (so machines need not share a filesystem)
//   steps             data-parallel or member-parallel steps (dist_steps.ts), SyncBN
//   validate          each rank evaluates its shard; the sums are all-reduced
//   beforeSave        member-parallel: the members come to rank 0, which alone writes files
//
// What crosses between processes: data-parallel — gradients (one average per step, bucketed
// while backward runs), the batch-norm buffers (or, with SyncBN, per-layer statistics), the
// step's numbers; member-parallel — each shard's logits (all_gather), gradients only between a
// member's replicas, the step's numbers, and the members' state when a checkpoint is written.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Tensor } from "../tensor/tensor.js";
import { noGrad, inferenceMode } from "../tensor/autograd.js";
import { tensor } from "../tensor/creation.js";
import { scope } from "../tensor/scope.js";
import { defaultGeneratorState, setDefaultGeneratorState } from "../tensor/random.js";
import { cudaDeviceCount } from "../tensor/runtime.js";
import { World, type ProcessGroup } from "../dist/group.js";
import { DistError, launchedWorldSize, readDistEnv } from "../dist/env.js";
import { topology, dataGroupRanks, memberGroupRanks, type Topology } from "../dist/topology.js";
import { convertSyncBatchNorm } from "../dist/sync_bn.js";
import { broadcastModule, broadcastState, type StateMessage } from "../dist/state.js";
import { ConfigError, DEFAULTS, resolveConfig, type TrainConfig } from "./config.js";
import type { TrainInput } from "./run_config.js";
import { claimRun, type ClaimedRun } from "./run_claim.js";
import type { Run, RunPlacement } from "./run.js";
import { freshRunState, type Restored } from "./run_checkpoints.js";
import {
  addBatchCounts,
  emptyEvalCounts,
  evaluateCounts,
  evalResult,
  type EvalCounts,
  type EvalResult,
} from "./evaluate.js";
import { labelTensor, viewTensor } from "./batch.js";
import { DistributedSteps } from "./dist_steps.js";

const CONCURRENT_REFUSAL =
  "concurrentMembers divides one process's threads among the members; with several processes use --member-parallel (or drop --concurrent-members)";

/** Config keys that may differ between ranks: where this machine keeps things, how fast it loads. */
const LOCAL_KEYS = new Set<string>([
  "data",
  "workers",
  "threads",
  "runDir",
  "distTimeout",
  "device",
]);

/** The restart count launchers set (torchrun's name): > 0 means "continue from the last checkpoint". */
function restartCount(): number {
  const n = Number(process.env.TORCHELASTIC_RESTART_COUNT ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * Joins the distributed run this process was launched into, or returns null when it was not
 * (no WORLD_SIZE in the environment and `required` false). `required` (`divco train
 * --distributed`) turns a missing environment into an error saying how to launch.
 */
export async function joinDistributed(
  user: TrainInput,
  required: boolean,
  resume: boolean,
): Promise<Distributed | null> {
  if (launchedWorldSize() === null && !required) return null;
  const env = readDistEnv();
  // Options this rank rejects by itself are reported now, not after waiting for the others
  // (whose launcher then stops them). A resumed run's config is rank 0's to read.
  if (!resume) {
    if (!user.arch)
      throw new ConfigError("arch is required (divco summary --list shows the architectures)");
    const c = resolveConfig(user as TrainInput & { arch: string });
    if (c.concurrentMembers) throw new ConfigError(CONCURRENT_REFUSAL);
  }
  const seconds = user.distTimeout ?? DEFAULTS.distTimeout;
  if (!(seconds > 0)) throw new ConfigError(`distTimeout must be > 0 seconds, got ${seconds}`);
  const device = user.device ?? DEFAULTS.device;
  const gpu = device.startsWith("cuda");
  const world = await World.init(env, {
    timeoutMs: Math.round(seconds * 1000),
    backend: gpu ? "nccl" : "gloo",
    // NCCL exchanges device memory only: this rank's GPU (as placement() chooses it).
    device: gpu ? (device === "cuda" ? `cuda:${env.localRank}` : device) : "cpu",
  });
  return new Distributed(world);
}

type Published = { config: TrainConfig; resume: boolean } | { error: string };

export class Distributed {
  private topo: Topology | null = null;
  private dataGroup: ProcessGroup | null = null;
  private memberGroup: ProcessGroup | null = null;
  private steps: DistributedSteps | null = null;

  constructor(readonly world: World) {}

  get rank(): number {
    return this.world.rank;
  }

  /** Whether this process writes the run directory (rank 0 only). */
  get writes(): boolean {
    return this.world.rank === 0;
  }

  get topology(): Topology {
    if (!this.topo) throw new Error("distributed: the groups are not connected yet");
    return this.topo;
  }

  /**
   * Resolves the run's config on every rank and checks that they agree. Rank 0 alone looks at
   * the run directory (a new run's must be empty; a resumed run's config is read there, and a
   * process restarted by the launcher resumes when the directory holds a run); the others adopt
   * its config. A rank whose options differ, or that rejected them, stops every rank with the
   * reason before anything is written.
   */
  async agreeOnConfig(
    user: TrainInput,
    resume: boolean,
    out: NodeJS.WritableStream | null,
  ): Promise<{ config: TrainConfig; resume: boolean; claimed: ClaimedRun | null }> {
    const rank = this.world.rank;
    let mine: Published;
    let claimed: ClaimedRun | null = null;
    try {
      if (rank === 0) {
        const again = !resume && restartCount() > 0 && existsSync(join(user.runDir, "config.json"));
        // Rank 0 alone owns the run directory: its lock, the resume plan, the config.
        claimed = claimRun(user, resume || again, out);
        mine = { config: claimed.config, resume: resume || again };
      } else if (resume) {
        mine = { config: null as unknown as TrainConfig, resume };
      } else {
        if (!user.arch)
          throw new ConfigError("arch is required (divco summary --list shows the architectures)");
        mine = { config: resolveConfig(user as TrainInput & { arch: string }), resume };
      }
    } catch (e) {
      mine = { error: (e as Error).message };
    }
    try {
      return { ...(await this.agree(rank, mine)), claimed };
    } catch (e) {
      // Nothing was written: the directory goes back as it was found.
      claimed?.claim.abandon();
      throw e;
    }
  }

  /** Publishes this rank's resolved config, checks every rank's against rank 0's, and returns the run's. */
  private async agree(
    rank: number,
    mine: Published,
  ): Promise<{ config: TrainConfig; resume: boolean }> {
    await this.world.set(`config/${rank}`, JSON.stringify(mine));
    const all: Published[] = [];
    for (let r = 0; r < this.world.size; r++)
      all.push(r === rank ? mine : (JSON.parse(await this.world.get(`config/${r}`)) as Published));
    const failed = all.findIndex((p) => "error" in p);
    if (failed >= 0) {
      const why = (all[failed] as { error: string }).error;
      throw new ConfigError(
        failed === rank ? why : `rank ${failed} rejected the configuration: ${why}`,
      );
    }
    const root = all[0] as { config: TrainConfig; resume: boolean };
    if (!root.resume) {
      for (let r = 1; r < all.length; r++) {
        const diff = differences(root.config, (all[r] as { config: TrainConfig }).config, r);
        if (diff.length)
          throw new ConfigError(
            `rank ${r} was started with other training options than rank 0:\n  ${diff.join("\n  ")}\n(every rank must get the same options; only ${[...LOCAL_KEYS].join(", ")} may differ)`,
          );
      }
    }
    // Machine-local keys stay this rank's own; everything that shapes the computation is rank 0's.
    const own = rank !== 0 && !root.resume ? (mine as { config: TrainConfig }).config : null;
    const config = { ...root.config };
    if (own)
      for (const k of LOCAL_KEYS)
        (config as Record<string, unknown>)[k] = own[k as keyof TrainConfig];
    return { config, resume: root.resume };
  }

  /** Decides who trains what and connects the data and member groups (every rank, same order). */
  async connect(c: TrainConfig): Promise<Topology> {
    if (c.concurrentMembers) throw new ConfigError(CONCURRENT_REFUSAL);
    const t = topology(
      this.world.size,
      this.world.rank,
      c.memberParallel ? "member" : "data",
      c.split,
    );
    if (t.mode === "data") {
      this.dataGroup = this.world.group;
    } else {
      for (let m = 0; m < t.memberRanks; m++) {
        const g = await this.world.newGroup(dataGroupRanks(t, m));
        if (g) this.dataGroup = g;
      }
      for (let d = 0; d < t.replicas; d++) {
        const g = await this.world.newGroup(memberGroupRanks(t, d));
        if (g) this.memberGroup = g;
      }
    }
    this.topo = t;
    return t;
  }

  /** This rank's share of the machine and of the data. */
  placement(c: TrainConfig): RunPlacement {
    const t = this.topology;
    const local = this.world.env.localWorldSize;
    let device = c.device;
    if (device === "cuda") {
      const n = cudaDeviceCount();
      if (this.world.env.localRank >= n)
        throw new DistError(
          `LOCAL_RANK ${this.world.env.localRank} has no GPU (this machine has ${n}); start at most ${n} processes per machine`,
        );
      device = `cuda:${this.world.env.localRank}`;
    }
    return {
      // The reference divides its loader workers among a machine's processes; cores likewise.
      threads: c.threads > 0 ? c.threads : Math.max(1, Math.floor(availableParallelism() / local)),
      workers: Math.ceil(c.workers / local),
      device,
      shard: { index: t.replica, count: t.replicas },
      member: t.member,
    };
  }

  /** One line saying how the run is spread (printed by rank 0). */
  describe(run: Run): string {
    const t = this.topology;
    const how =
      t.mode === "data"
        ? `data-parallel over ${t.worldSize} processes (global batch ${run.config.batchSize}, ${run.config.batchSize / t.replicas} per process${run.config.syncBn ? ", SyncBN" : ""})`
        : `member-parallel: ${t.memberRanks} members × ${t.replicas} data-parallel replica${t.replicas > 1 ? "s" : ""} = ${t.worldSize} processes`;
    const e = this.world.env;
    return `divco: ${how}, ${this.world.backend} via ${e.masterAddr}:${e.masterPort}, ${run.threads} thread${run.threads > 1 ? "s" : ""} per process\n`;
  }

  /**
   * Brings every rank to the same starting state. Resumed: rank 0 restores (`restore`: the
   * checkpoint its resume plan chose) and sends model, optimiser, random state and position to
   * the others. New: rank 0's initial weights (equal anyway: every rank seeds alike) go to
   * everyone, as DDP does.
   */
  async start(run: Run, resume: boolean, restore: (run: Run) => Restored): Promise<Restored> {
    const { members, optimizer } = run;
    if (!resume) {
      await broadcastModule(members, this.world.group);
      return { state: freshRunState() };
    }
    let message: StateMessage | null = null;
    let restored: Restored | null = null;
    let rng: Tensor | null = null;
    if (this.writes) {
      restored = restore(run);
      const opt = optimizer.stateDict();
      const tensors = new Map<string, Tensor>();
      for (const [k, t] of members.stateDict()) tensors.set(`model.${k}`, t);
      for (const [k, t] of opt.tensors) tensors.set(`optim.${k}`, t);
      rng = defaultGeneratorState();
      tensors.set("rng", rng);
      message = {
        tensors,
        note: { restored, optimizer: { kind: opt.kind, groups: opt.groups, scalars: opt.scalars } },
      };
    }
    try {
      const got = await broadcastState(this.world.group, message, 0);
      if (this.writes) return restored!;
      try {
        const note = got.note as {
          restored: Restored;
          optimizer: Omit<ReturnType<typeof optimizer.stateDict>, "tensors">;
        };
        const model = new Map<string, Tensor>();
        const optim = new Map<string, Tensor>();
        for (const [k, t] of got.tensors) {
          if (k.startsWith("model.")) model.set(k.slice(6), t);
          else if (k.startsWith("optim.")) optim.set(k.slice(6), t);
        }
        members.loadStateDict(model);
        optimizer.loadStateDict({ ...note.optimizer, tensors: optim });
        setDefaultGeneratorState(got.tensors.get("rng")!);
        return note.restored;
      } finally {
        for (const t of got.tensors.values()) t.dispose();
      }
    } finally {
      rng?.dispose();
    }
  }

  /** The step runner: data- or member-parallel, with SyncBN when asked for. */
  startSteps(run: Run, localStop: { readonly requested: boolean }): DistributedSteps {
    const t = this.topology;
    const trained = t.member === null ? run.members : run.members.models.items[t.member];
    if (run.config.syncBn) convertSyncBatchNorm(trained, this.dataGroup!);
    this.steps = new DistributedSteps({
      members: run.members,
      optimizer: run.optimizer,
      options: run.stepOptions,
      world: this.world.group,
      dataGroup: this.dataGroup!,
      memberGroup: this.memberGroup,
      member: t.member,
      localStop,
      syncBn: run.config.syncBn && this.dataGroup!.size > 1,
    });
    return this.steps;
  }

  /**
   * Evaluates this rank's shard of the evaluation set and all-reduces the sums, so every rank
   * returns the whole set's result. Member-parallel: each shard's members' logits are gathered
   * per batch, so the ensemble is scored exactly as one process scores it.
   */
  async validate(run: Run, epoch: number): Promise<EvalResult> {
    const t = this.topology;
    const c = run.config;
    const o = {
      rule: c.ensemble,
      memoryFormat: c.memoryFormat,
      device: run.stepOptions.device,
      epoch,
    };
    const counts =
      t.member === null
        ? await evaluateCounts(run.members, run.testLoader, o)
        : await this.evaluateMember(run, t.member, o);
    return evalResult(await this.sumCounts(counts, t.member === null ? 1 : t.memberRanks));
  }

  private async evaluateMember(
    run: Run,
    m: number,
    o: {
      rule: TrainConfig["ensemble"];
      memoryFormat: TrainConfig["memoryFormat"];
      device: string;
      epoch: number;
    },
  ): Promise<EvalCounts> {
    const member = run.members.models.items[m];
    const wasTraining = member.training;
    member.eval();
    const counts = emptyEvalCounts(run.members.split);
    try {
      for await (const batch of run.testLoader.epoch(o.epoch)) {
        const z = inferenceMode(() =>
          scope(() =>
            member.forward(viewTensor(batch.views[0], batch.shape, o.memoryFormat, o.device)),
          ),
        );
        let outs: Tensor[] = [];
        try {
          outs = await this.memberGroup!.allGather(z);
          inferenceMode(() =>
            scope(() => addBatchCounts(counts, outs, labelTensor(batch.labels, o.device), o.rule)),
          );
        } finally {
          z.dispose();
          for (const x of outs) x.dispose();
        }
      }
    } finally {
      member.train(wasTraining);
    }
    return counts;
  }

  /** Sums `c` over the world; `copies` ranks computed each shard's sums (member-parallel: S). */
  private async sumCounts(c: EvalCounts, copies: number): Promise<EvalCounts> {
    const S = c.memberCorrect.length;
    using v = tensor(
      new Float64Array([c.top1Correct, c.top5Correct, ...c.memberCorrect, c.lossSum, c.images]),
      { device: this.world.group.device as "cpu" },
    );
    await this.world.group.allReduce([v], "sum");
    const x = v.toArray().map((n) => n / copies);
    return {
      top1Correct: x[0],
      top5Correct: x[1],
      memberCorrect: x.slice(2, 2 + S),
      lossSum: x[2 + S],
      images: x[3 + S],
    };
  }

  /**
   * Before rank 0 writes a checkpoint. Member-parallel: member m's first replica sends its
   * member's parameters, buffers and optimiser state to rank 0, whose copies of the other
   * members are stale, so that the checkpoint holds every member as one process would (and
   * `divco eval --run` and a resume on any world size read it as usual). Data-parallel: nothing
   * (every rank holds the same state).
   */
  async beforeSave(run: Run): Promise<void> {
    const t = this.topology;
    if (t.mode !== "member" || t.replica !== 0) return;
    const g = this.memberGroup!; // replica 0 of every member; group rank m is member m
    const { members, optimizer } = run;
    const order = optimizer.groups.flatMap((x) => x.params);
    const indexOf = new Map(order.map((p, i) => [p, i]));
    const received: { tensors: Map<string, Tensor>; scalars: Record<string, number> }[] = [];
    for (let j = 1; j < t.memberRanks; j++) {
      let message: StateMessage | null = null;
      if (g.rank === j) {
        const module = members.models.items[j];
        const tensors = new Map<string, Tensor>();
        module.parameters().forEach((p, i) => tensors.set(`p${i}`, p));
        module.buffers().forEach((b, i) => tensors.set(`b${i}`, b));
        const own = new Set(module.parameters().map((p) => String(indexOf.get(p))));
        const opt = optimizer.stateDict();
        const scalars: Record<string, number> = {};
        for (const [k, v] of opt.tensors) if (own.has(k.split(".")[0])) tensors.set(`o.${k}`, v);
        for (const [k, v] of Object.entries(opt.scalars))
          if (own.has(k.split(".")[0])) scalars[k] = v;
        message = { tensors, note: scalars };
      }
      const got = await broadcastState(g, message, j);
      if (g.rank === j) continue;
      if (g.rank !== 0) {
        for (const x of got.tensors.values()) x.dispose();
        continue;
      }
      const module = members.models.items[j];
      noGrad(() => {
        module.parameters().forEach((p, i) => p.copy_(got.tensors.get(`p${i}`)!));
        module.buffers().forEach((b, i) => b.copy_(got.tensors.get(`b${i}`)!));
      });
      const opt = new Map<string, Tensor>();
      for (const [k, x] of got.tensors) {
        if (k.startsWith("o.")) opt.set(k.slice(2), x);
        else x.dispose();
      }
      received.push({ tensors: opt, scalars: got.note as Record<string, number> });
    }
    if (g.rank !== 0) return;
    // Rank 0's optimiser takes the other members' state (loadStateDict replaces its state
    // tensors with copies, so its own entries are cloned first).
    const own = optimizer.stateDict();
    const tensors = new Map<string, Tensor>();
    for (const [k, x] of own.tensors) tensors.set(k, x.clone());
    const scalars = { ...own.scalars };
    for (const r of received) {
      for (const [k, x] of r.tensors) {
        tensors.get(k)?.dispose();
        tensors.set(k, x);
      }
      Object.assign(scalars, r.scalars);
    }
    try {
      optimizer.loadStateDict({ kind: own.kind, groups: own.groups, scalars, tensors });
    } finally {
      for (const x of tensors.values()) x.dispose();
    }
  }

  /** Waits for every rank to finish (so none tears the rendezvous down under another), then leaves. */
  async finish(): Promise<void> {
    try {
      await this.world.group.barrier();
      await this.steps?.close();
      await this.world.leave();
    } finally {
      this.close();
    }
  }

  /** Releases the reducer, the groups and the rendezvous. Idempotent. */
  close(): void {
    void this.steps?.close();
    this.world.destroy();
  }
}

/** "key: rank 0's value, rank r's value" for every key that shapes the computation. */
function differences(a: TrainConfig, b: TrainConfig, r: number): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (LOCAL_KEYS.has(k)) continue;
    const x = JSON.stringify((a as unknown as Record<string, unknown>)[k]);
    const y = JSON.stringify((b as unknown as Record<string, unknown>)[k]);
    if (x !== y) out.push(`${k}: ${x} on rank 0, ${y} on rank ${r}`);
  }
  return out;
}
