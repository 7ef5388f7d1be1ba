// Horizontal fusion: S members of identical structure computed as ONE network whose activations
// hold the members' channels side by side ([member 0's C | member 1's C | …]), so one kernel
// does the work of S narrow ones (as HFTA, MLSys 2021, does for arrays of models in training).
//
// The fused network is built from the members' weights by a transformation of member 0's
// module tree, one rule per layer type:
//   - Conv2d: S× the channels and S× the groups, weights and biases concatenated along the
//     output channels. The convolution that receives the input image is shared instead: a
//     groups=1 convolution with S× the output channels reads the same 3 input channels once.
//   - BatchNorm2d: affine parameters and running statistics concatenated.
//   - Linear (the classifier): a batched matmul, member by member → [N, S·classes].
//   - SplitAttnConv2d (ResNeXSt): its own fused forward (its radix reshape splits channels).
//   - Classes declared channel-agnostic (nn/fusion.ts: containers, activations, pooling, the
//     families' blocks): copied with their fused children and run with their own forward.
// Anything else that runs in the forward pass is refused, naming the module's path and class.
// Fused networks are for inference only (evaluation-mode batch norm, no random draws).
import { Module } from "../nn/module.js";
import { Conv2d } from "../nn/layers/conv.js";
import { BatchNorm2d } from "../nn/layers/batchnorm.js";
import { Linear } from "../nn/layers/linear.js";
import { isChannelAgnostic, withFusedMembers } from "../nn/fusion.js";
import { cat } from "../tensor/creation.js";
import { inferenceMode, noGrad } from "../tensor/autograd.js";
import { scope } from "../tensor/scope.js";
import type { Tensor } from "../tensor/tensor.js";
import { FusedLinear, FusedSplitAttnConv2d, SplitAttnConv2d } from "./fused_layers.js";

/** A module of the member network that fusion cannot handle, and why. */
export interface FusionRefusal {
  /** Dotted path in the member network ("" for the network itself). */
  path: string;
  className: string;
  reason: string;
}

export class FusionError extends Error {
  constructor(
    readonly arch: string,
    readonly refusals: FusionRefusal[],
  ) {
    super(
      `${arch} cannot be fused: ` +
        refusals
          .slice(0, 5)
          .map((r) => `${r.path || "(network)"} (${r.className}): ${r.reason}`)
          .join("; ") +
        (refusals.length > 5 ? `; … (${refusals.length} in all)` : "") +
        ". Use the sequential or concurrent mode for it.",
    );
    this.name = "FusionError";
  }
}

/** Which modules run during a forward pass, and which receive the network's input itself. */
interface Trace {
  called: Set<Module>;
  entries: Set<Module>;
}

/** Runs `net` once on `x` (inference mode) and records the modules it calls. */
function trace(net: Module, x: Tensor): Trace {
  const called = new Set<Module>();
  const entries = new Set<Module>();
  const patched = new Set<Module>();
  try {
    for (const [, m] of net.namedModules()) {
      if (patched.has(m)) continue;
      const forward = m.forward;
      // An own property shadows the class's forward for this call only; deleted below.
      Object.defineProperty(m, "forward", {
        configurable: true,
        writable: true,
        value: (...args: Tensor[]) => {
          called.add(m);
          if (args[0] === x) entries.add(m);
          return forward.apply(m, args);
        },
      });
      patched.add(m);
    }
    inferenceMode(() => scope(() => void net.forward(x)));
  } finally {
    for (const m of patched) delete (m as { forward?: unknown }).forward;
  }
  return { called, entries };
}

const isLeaf = (m: Module): boolean => m.children().next().done === true;
const hasOwnState = (m: Module): boolean =>
  [...m.namedParameters()].some(([k]) => !k.includes(".")) ||
  [...m.namedBuffers()].some(([k]) => !k.includes("."));

/** The refusal for `m` at `path`, or null when a rule covers it. */
function refusal(path: string, m: Module, t: Trace): FusionRefusal | null {
  const className = m.constructor.name;
  if (t.entries.has(m) && isLeaf(m)) {
    if (!(m instanceof Conv2d) || m.groups !== 1)
      return {
        path,
        className,
        reason:
          "it receives the input image first; fusion shares the input through a groups=1 convolution",
      };
  }
  if (m instanceof Conv2d) {
    if (m.constructor === Conv2d || isChannelAgnostic(m)) return null;
    return {
      path,
      className,
      reason: "a Conv2d subclass whose forward is not declared channel-agnostic",
    };
  }
  if (m.constructor === BatchNorm2d || m.constructor === Linear) return null;
  if (m.constructor === SplitAttnConv2d) return null;
  if (!isChannelAgnostic(m))
    return {
      path,
      className,
      reason:
        "its forward may depend on the channel layout (not declared with markChannelAgnostic, no fusion rule)",
    };
  if (hasOwnState(m))
    return {
      path,
      className,
      reason: "it holds parameters or buffers of its own and has no fusion rule",
    };
  return null;
}

/**
 * Every module of `member` that would stop it from being fused, found by running it once on
 * `probe` (a batch shaped like its input). Empty when it fuses.
 */
export function fusionRefusals(member: Module, probe: Tensor): FusionRefusal[] {
  const wasTraining = member.training;
  member.eval();
  try {
    return refusalsOf(member, trace(member, probe));
  } finally {
    member.train(wasTraining);
  }
}

function refusalsOf(member: Module, t: Trace): FusionRefusal[] {
  const out: FusionRefusal[] = [];
  for (const [path, m] of member.namedModules()) {
    if (!t.called.has(m)) continue;
    const r = refusal(path, m, t);
    if (r) out.push(r);
  }
  return out;
}

function sameConfig(ms: Module[], keys: string[], path: string): void {
  const rec = (m: Module) => m as unknown as Record<string, unknown>;
  for (const k of keys) {
    const a = JSON.stringify(rec(ms[0])[k]);
    ms.forEach((m, i) => {
      if (JSON.stringify(rec(m)[k]) !== a)
        throw new Error(
          `fuse: member ${i} differs from member 0 at ${path || "(network)"}.${k}; members must have identical structure`,
        );
    });
  }
}

/** The fused network under construction: member-0 module → its fused copy, and the new tensors. */
class Builder {
  readonly fused = new Map<Module, Module>();
  readonly owned: Tensor[] = [];

  constructor(
    readonly S: number,
    readonly t: Trace,
  ) {}

  own(x: Tensor): Tensor {
    this.owned.push(x.keep());
    return x;
  }

  catOf(ms: Module[], pick: (m: Module) => Tensor | null): Tensor | null {
    const ts = ms.map(pick);
    if (ts.every((x) => x === null)) return null;
    return this.own(cat(ts as Tensor[], 0));
  }

  build(path: string, ms: Module[]): Module {
    const m0 = ms[0];
    const done = this.fused.get(m0);
    if (done) return done;
    let out: Module;
    if (!this.used(m0)) {
      // Never runs in a forward pass (Shake-Shake's unused shortcuts): member 0's stays in place.
      out = m0;
    } else if (!this.t.called.has(m0)) {
      // A holder whose children its parent calls directly (a ModuleList of blocks).
      if (hasOwnState(m0))
        throw new FusionError(path, [
          {
            path,
            className: m0.constructor.name,
            reason: "it holds parameters or buffers that its parent may read directly",
          },
        ]);
      out = this.composite(path, ms);
    } else {
      const r = refusal(path, m0, this.t);
      if (r) throw new FusionError(path, [r]);
      out = this.rule(path, ms);
    }
    this.fused.set(m0, out);
    return out;
  }

  private rule(path: string, ms: Module[]): Module {
    const m0 = ms[0];
    const S = this.S;
    if (m0 instanceof Conv2d) {
      sameConfig(
        ms,
        ["inChannels", "outChannels", "kernelSize", "stride", "padding", "dilation", "groups"],
        path,
      );
      const shared = this.t.entries.has(m0);
      const convs = ms as Conv2d[];
      return m0.withParts(
        {
          params: new Map([
            ["weight", this.catOf(convs, (c) => (c as Conv2d).weight)],
            ["bias", this.catOf(convs, (c) => (c as Conv2d).bias)],
          ]),
        },
        {
          // The input image is shared: one groups=1 conv computes every member's first layer.
          inChannels: shared ? m0.inChannels : S * m0.inChannels,
          groups: shared ? 1 : S * m0.groups,
          outChannels: S * m0.outChannels,
        },
      );
    }
    if (m0 instanceof BatchNorm2d) {
      sameConfig(ms, ["numFeatures", "eps"], path);
      const bns = ms as BatchNorm2d[];
      return m0.withParts(
        {
          params: new Map([
            ["weight", this.catOf(bns, (b) => (b as BatchNorm2d).weight)],
            ["bias", this.catOf(bns, (b) => (b as BatchNorm2d).bias)],
          ]),
          buffers: new Map([
            ["running_mean", this.catOf(bns, (b) => (b as BatchNorm2d).runningMean)],
            ["running_var", this.catOf(bns, (b) => (b as BatchNorm2d).runningVar)],
            // Only training updates it; a fused copy never trains.
            ["num_batches_tracked", null],
          ]),
        },
        { numFeatures: S * m0.numFeatures },
      );
    }
    if (m0 instanceof Linear) {
      sameConfig(ms, ["inFeatures", "outFeatures"], path);
      const fc = new FusedLinear(ms as Linear[]);
      for (const x of fc.buffers()) this.owned.push(x);
      return fc;
    }
    return this.composite(path, ms);
  }

  /** Whether `m` or a module below it runs in the forward pass. */
  private used(m: Module): boolean {
    for (const [, d] of m.namedModules()) if (this.t.called.has(d)) return true;
    return false;
  }

  /** A copy of the module with its children fused (its own forward runs unchanged). */
  private composite(path: string, ms: Module[]): Module {
    const m0 = ms[0];
    const children = new Map<string, Module>();
    for (const [name] of m0.namedChildren()) {
      const kids = ms.map((m) => childNamed(m, name));
      children.set(name, this.build(path ? `${path}.${name}` : name, kids));
    }
    if (children.size === 0) return m0; // stateless and channel-agnostic: shared as it is
    const proto = m0 instanceof SplitAttnConv2d ? FusedSplitAttnConv2d.prototype : undefined;
    return m0.withParts({ children }, {}, proto);
  }
}

function childNamed(m: Module, name: string): Module {
  for (const [n, c] of m.namedChildren()) if (n === name) return c;
  throw new Error(`fuse: a member has no child "${name}"; members must have identical structure`);
}

/** S members computed as one network (inference only). */
export class FusedMembers implements Disposable {
  private constructor(
    /** The fused network: member 0's structure with fused layers. */
    readonly net: Module,
    readonly split: number,
    private readonly owned: Tensor[],
  ) {}

  /**
   * Fuses `members` (identical structure, e.g. `Members.models.items`), tracing one forward
   * pass of member 0 on `probe` to learn which modules run and which receive the input. The
   * members are left as they are; the fused network holds its own concatenated weights.
   * Throws a FusionError naming the modules no rule covers.
   */
  static build(members: readonly Module[], probe: Tensor, name = "network"): FusedMembers {
    if (members.length < 1) throw new RangeError("FusedMembers: no members");
    const m0 = members[0];
    const modes = members.map((m) => m.training);
    for (const m of members) m.eval();
    try {
      const t = trace(m0, probe);
      const refusals = refusalsOf(m0, t);
      if (refusals.length) throw new FusionError(name, refusals);
      const b = new Builder(members.length, t);
      try {
        const net = noGrad(() => b.build("", [...members]));
        net.eval();
        return new FusedMembers(net, members.length, b.owned);
      } catch (e) {
        for (const x of b.owned) x.dispose();
        if (e instanceof FusionError) throw new FusionError(name, e.refusals);
        throw e;
      }
    } finally {
      members.forEach((m, i) => m.train(modes[i]));
    }
  }

  /**
   * Every member's output for the batch `x` (inference mode): S tensors [N, C], views of one
   * [S, N, C] tensor (the caller owns and disposes them).
   */
  forward(x: Tensor): Tensor[] {
    const S = this.split;
    return inferenceMode(() =>
      scope(() => {
        const y = withFusedMembers(S, () => this.net.forward(x));
        const [n, sc] = y.shape;
        const byMember = y
          .view([n, S, sc / S])
          .transpose(0, 1)
          .contiguous();
        return Array.from({ length: S }, (_, i) => byMember.select(0, i));
      }),
    );
  }

  /** Frees the fused weights (the members' own tensors are untouched). */
  dispose(): void {
    for (const x of this.owned) x.dispose();
    this.owned.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
