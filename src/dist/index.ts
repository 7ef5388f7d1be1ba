// Distributed training on c10d (DESIGN.md §7): process groups and collectives, the gradient
// reducer, SyncBN, moving state between ranks, the rank topology and the torchrun environment.
// The trainer's use of them is in cotrain/distributed.ts; the launcher (launcher.ts, no native
// code) is `divco launch`.
export {
  DistError,
  readDistEnv,
  launchedWorldSize,
  localAddressToward,
  isLoopback,
  type DistEnv,
} from "./env.js";
export { World, ProcessGroup, type WorldOptions } from "./group.js";
export { GradReducer, backwardOffThread, type ReducerOptions } from "./reducer.js";
export { SyncBatchStats, convertSyncBatchNorm } from "./sync_bn.js";
export { broadcastModule, broadcastBytes, broadcastState, type StateMessage } from "./state.js";
export { topology, dataGroupRanks, memberGroupRanks, type Topology } from "./topology.js";
export { distributedAvailable, type ReduceOp, type Backend } from "./native.js";
export { launch, type LaunchOptions } from "./launcher.js";
