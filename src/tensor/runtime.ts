// Process-wide engine settings: intra-op threads, devices, build facts.
import { availableParallelism } from "node:os";
import { native } from "./native.js";

/** Sets libtorch's intra-op thread count (default at load: every core). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`setNumThreads: need a positive integer, got ${n}`);
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}

export function cudaAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}

export function buildInfo(): ReturnType<typeof native.buildInfo> {
  return native.buildInfo();
}

/**
 * Returns the heap's free memory to the operating system (malloc_trim). The allocator keeps
 * freed blocks for reuse (a training step allocates the same sizes again); call this after a
 * one-off allocation that will not recur. Returns whether any memory was released.
 */
export function releaseFreeMemory(): boolean {
  return native.mallocTrim();
}

/** Bytes malloc has handed out and holds (for memory tests and diagnostics). */
export function heapStats(): { inUse: number; held: number } {
  return native.heapStats();
}

// libtorch would otherwise use OMP_NUM_THREADS or a single thread (Debian's build reports 1);
// DIVCO_NUM_THREADS lets a user choose without code.
const envThreads = Number(process.env.DIVCO_NUM_THREADS);
setNumThreads(Number.isInteger(envThreads) && envThreads > 0 ? envThreads : availableParallelism());
