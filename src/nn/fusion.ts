// Support for horizontal fusion (src/infer/fuse.ts): S member networks of identical structure
// computed as one network whose activations hold the members' channels side by side,
// [member 0's C channels | member 1's C | …]. Convolutions, batch norm and the classifier are
// rebuilt with S× the channels and S× the groups; everything else runs the members' own
// forward code unchanged. That is only correct for code that touches channels solely through
// its child modules — so classes say so (`markChannelAgnostic`), and the two joins that do
// depend on the layout (channel concatenation, channel zero-padding) are written with the
// helpers below, which act per member inside a fused forward and are the plain operation
// otherwise.
import type { Tensor } from "../tensor/tensor.js";
import { cat } from "../tensor/creation.js";
import { pad } from "./functional.js";
import type { Module } from "./module.js";

// Per thread (each worker thread has its own copy of this module): the number of members laid
// side by side in the current forward pass; 1 outside a fused forward.
let members = 1;

/** How many member networks' channels lie side by side in the current forward pass (1 = none). */
export function fusedMembers(): number {
  return members;
}

/** Runs `fn` (a fused network's forward) with `count` members' channels side by side. */
export function withFusedMembers<T>(count: number, fn: () => T): T {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`withFusedMembers: need a positive integer, got ${count}`);
  const outer = members;
  members = count;
  try {
    return fn();
  } finally {
    members = outer;
  }
}

/** [N, S·C, …] → [N, S, C, …] (a view for contiguous tensors). */
function byMember(x: Tensor, S: number): Tensor {
  const [n, c, ...rest] = x.shape;
  if (c % S)
    throw new RangeError(`fused forward: ${c} channels cannot be split among ${S} members`);
  return x.reshape([n, S, c / S, ...rest]);
}

/**
 * torch.cat(tensors, dim=1) of one network; in a fused forward, each member's channels are
 * concatenated with its own (the result keeps the side-by-side layout).
 */
export function catChannels(tensors: Tensor[]): Tensor {
  const S = members;
  if (S === 1) return cat(tensors, 1);
  const parts = tensors.map((t) => byMember(t, S));
  try {
    using joined = cat(parts, 2);
    const [n, , c, ...rest] = joined.shape;
    return joined.reshape([n, S * c, ...rest]);
  } finally {
    for (const p of parts) p.dispose();
  }
}

/**
 * Zero-pads the channels of `x` (N×C×H×W) at the end up to `channels`; in a fused forward
 * (`x` holding S members' channels and `channels` the fused total) each member's channels are
 * padded up to its share. Returns `x` itself when nothing is missing.
 */
export function padChannelsTo(x: Tensor, channels: number): Tensor {
  const S = members;
  const extra = (channels - x.shape[1]) / S;
  if (extra <= 0) return x;
  if (!Number.isInteger(extra))
    throw new RangeError(
      `padChannelsTo: ${x.shape[1]} → ${channels} channels cannot be split among ${S} members`,
    );
  if (S === 1) return pad(x, [0, 0, 0, 0, 0, extra]);
  using parts = byMember(x, S);
  using padded = pad(parts, [0, 0, 0, 0, 0, extra]);
  const [n, , c, ...rest] = padded.shape;
  return padded.reshape([n, S * c, ...rest]);
}

type ModuleClass = abstract new (...args: never[]) => Module;

const agnostic = new WeakSet<object>();

/**
 * Declares that these classes' forward passes treat channels only through their child modules
 * and the helpers above (no reshape, slice or concatenation of the channel axis of their own),
 * so a fused copy of them computes every member at once. Exact classes only: a subclass that
 * overrides forward must be declared on its own.
 */
export function markChannelAgnostic(...classes: ModuleClass[]): void {
  for (const c of classes) agnostic.add(c);
}

/** Whether `m`'s own class was declared channel-agnostic. */
export function isChannelAgnostic(m: Module): boolean {
  return agnostic.has(m.constructor);
}
