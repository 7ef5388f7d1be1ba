// The torchrun environment: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT — what `divco launch` sets, and what a divco started by torchrun (or any launcher
// following its conventions) finds. Plus the address this machine's Gloo device should bind.
import { createSocket } from "node:dgram";
import { isIP } from "node:net";

export class DistError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DistError";
  }
}

export interface DistEnv {
  rank: number;
  worldSize: number;
  /** Rank among the processes of this machine (its device index on a GPU machine). */
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
}

/** The environment's WORLD_SIZE as a number, or null when it is unset (not launched distributed). */
export function launchedWorldSize(env: NodeJS.ProcessEnv = process.env): number | null {
  return env.WORLD_SIZE === undefined || env.WORLD_SIZE === "" ? null : Number(env.WORLD_SIZE);
}

/**
 * Reads the torchrun variables. RANK and WORLD_SIZE are required; LOCAL_RANK and
 * LOCAL_WORLD_SIZE default to a single machine's (RANK, WORLD_SIZE); MASTER_ADDR to 127.0.0.1,
 * MASTER_PORT to 29500 (torchrun's defaults). Bad values are errors naming the variable.
 */
export function readDistEnv(env: NodeJS.ProcessEnv = process.env): DistEnv {
  const int = (key: string, fallback: number | null, min: number): number => {
    const raw = env[key];
    if (raw === undefined || raw === "") {
      if (fallback === null)
        throw new DistError(
          `${key} is not set: start distributed training with \`divco launch --nproc-per-node N -- divco train ...\` (or torchrun), which sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT`,
        );
      return fallback;
    }
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min)
      throw new DistError(`${key} must be an integer ≥ ${min}, got "${raw}"`);
    return v;
  };
  const worldSize = int("WORLD_SIZE", null, 1);
  const rank = int("RANK", null, 0);
  if (rank >= worldSize) throw new DistError(`RANK ${rank} is not below WORLD_SIZE ${worldSize}`);
  const localWorldSize = int("LOCAL_WORLD_SIZE", worldSize, 1);
  const localRank = int("LOCAL_RANK", rank % localWorldSize, 0);
  if (localRank >= localWorldSize)
    throw new DistError(`LOCAL_RANK ${localRank} is not below LOCAL_WORLD_SIZE ${localWorldSize}`);
  const masterAddr = env.MASTER_ADDR || "127.0.0.1";
  const masterPort = int("MASTER_PORT", 29500, 1);
  if (masterPort > 65535) throw new DistError(`MASTER_PORT must be below 65536, got ${masterPort}`);
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort };
}

/** Whether `host` names this machine's loopback (every rank then lives on this machine). */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/**
 * The local address of the interface that routes to `host` — where this machine's Gloo device
 * should listen so that the other machines can reach it. (Gloo's default resolves the hostname,
 * which Debian maps to 127.0.1.1: peers on other machines then fail to connect.) A UDP socket's
 * connect() only picks the route; nothing is sent.
 */
export async function localAddressToward(host: string): Promise<string> {
  if (isLoopback(host)) return "127.0.0.1";
  const family = isIP(host) === 6 ? "udp6" : "udp4";
  const socket = createSocket(family);
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(9, host, () => resolve(socket.address().address));
    });
  } catch (e) {
    throw new DistError(
      `cannot find a route from this machine to MASTER_ADDR ${host}: ${(e as Error).message} (set GLOO_SOCKET_IFNAME to the interface to use)`,
    );
  } finally {
    socket.close();
  }
}
