// Who does what in a distributed run. Data-parallel: every rank holds every member and trains
// them on its shard of the batch. Member-parallel: member m's D replicas are ranks m·D … m·D+D−1
// (so with --nproc-per-node D a member's gradient all-reduce stays on one machine and only the
// small logits cross machines); replica d of every member trains on shard d of the batch.
//
//   data group   ranks training the same member(s) on different shards: gradients are averaged
//   member group ranks training different members on the same shard: logits are gathered
import { DistError } from "./env.js";

export interface Topology {
  worldSize: number;
  rank: number;
  mode: "data" | "member";
  /** Members trained by separate ranks (S in member-parallel mode, 1 in data-parallel mode). */
  memberRanks: number;
  /** Shards of every batch (data-parallel replicas of each member). */
  replicas: number;
  /** The member this rank trains (member-parallel), or null (data-parallel: all of them). */
  member: number | null;
  /** This rank's shard of each batch. */
  replica: number;
}

export function topology(
  worldSize: number,
  rank: number,
  mode: "data" | "member",
  split: number,
): Topology {
  if (mode === "data") {
    return {
      worldSize,
      rank,
      mode,
      memberRanks: 1,
      replicas: worldSize,
      member: null,
      replica: rank,
    };
  }
  if (split < 2)
    throw new DistError(
      "member-parallel training puts each of S ≥ 2 members in its own process; with split 1 use data-parallel training (drop --member-parallel)",
    );
  if (worldSize % split !== 0)
    throw new DistError(
      `member-parallel training needs a multiple of S = ${split} processes (S members × data-parallel replicas), got WORLD_SIZE ${worldSize}`,
    );
  const replicas = worldSize / split;
  return {
    worldSize,
    rank,
    mode,
    memberRanks: split,
    replicas,
    member: Math.floor(rank / replicas),
    replica: rank % replicas,
  };
}

/** Global ranks of member `m`'s replicas (its data group). */
export function dataGroupRanks(t: Topology, m: number): number[] {
  if (t.mode === "data") return Array.from({ length: t.worldSize }, (_, i) => i);
  return Array.from({ length: t.replicas }, (_, d) => m * t.replicas + d);
}

/** Global ranks of replica `d` of every member (its member group). */
export function memberGroupRanks(t: Topology, d: number): number[] {
  if (t.mode === "data") return [d];
  return Array.from({ length: t.memberRanks }, (_, m) => m * t.replicas + d);
}
