// The fused layers that need a forward of their own (fuse.ts): the classifier as a batched
// matmul, and ResNeXSt's split-attention convolution, whose radix reshape splits channels.
import { Module } from "../nn/module.js";
import type { Linear } from "../nn/layers/linear.js";
import { fusedMembers } from "../nn/fusion.js";
import { pipe } from "../nn/layers/containers.js";
import * as F from "../nn/functional.js";
import { stack } from "../tensor/creation.js";
import type { Tensor } from "../tensor/tensor.js";
import { SplitAttnConv2d } from "../models/resnexst.js";

export { SplitAttnConv2d };

/**
 * S Linear layers as one: input [N, S·in] (member s's features in block s), output
 * [N, S·out] in the same side-by-side layout. Weights as [S, in, out] for one batched matmul.
 */
export class FusedLinear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly split: number;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(members: readonly Linear[]) {
    super();
    this.split = members.length;
    this.inFeatures = members[0].inFeatures;
    this.outFeatures = members[0].outFeatures;
    // Buffers, not parameters: a fused network is never trained.
    const transposed = members.map((m) => m.weight.T);
    try {
      this.weight = this.buffer("weight", stack(transposed, 0));
    } finally {
      for (const t of transposed) t.dispose();
    }
    const biases = members.map((m) => m.bias);
    if (biases.every((b) => b !== null)) {
      using stacked = stack(biases as Tensor[], 0);
      using view = stacked.reshape([this.split, 1, this.outFeatures]);
      this.bias = this.buffer("bias", view.clone());
    } else {
      this.bias = this.buffer("bias", null);
    }
  }

  forward(x: Tensor): Tensor {
    const S = this.split;
    const [n, width] = x.shape;
    if (x.ndim !== 2 || width !== S * this.inFeatures)
      throw new RangeError(
        `FusedLinear: expected [N, ${S * this.inFeatures}] (${S} members × ${this.inFeatures}), got [${x.shape}]`,
      );
    using perMember = x.reshape([n, S, this.inFeatures]);
    using xs = perMember.transpose(0, 1); // [S, N, in]
    using y = xs.matmul(this.weight); // [S, N, out]
    if (this.bias) y.add_(this.bias);
    using yt = y.transpose(0, 1); // [N, S, out]
    return yt.reshape([n, S * this.outFeatures]);
  }
}

/**
 * SplitAttnConv2d over S members' channels side by side: the same computation with a member
 * axis next to the radix axis (shapes [B, S, radix, C, H, W] instead of [B, radix, C, H, W]).
 * Its children are the fused conv / BN / 1×1 convs (S× channels and groups).
 */
export class FusedSplitAttnConv2d extends SplitAttnConv2d {
  override forward(x: Tensor): Tensor {
    const S = fusedMembers();
    using h = pipe(x, this.conv, this.bn0, (t) => F.relu(t, true));
    const [B, SRC, H, W] = h.shape;
    const C = SRC / (S * this.radix);
    using splits = h.reshape([B, S, this.radix, C, H, W]);
    using weights = pipe(
      splits,
      (s) => s.sum(2),
      (s) => s.reshape([B, S * C, H, W]),
      (s) => F.adaptiveAvgPool2d(s, 1),
      this.fc1,
      this.bn1,
      (t) => F.relu(t, true),
      this.fc2,
      // Per member, channels are ordered (group, radix, c): softmax over the radix.
      (a) => a.reshape([B, S, this.groups, this.radix, -1]),
      (a) => a.transpose(2, 3),
      (a) => F.softmax(a, 2),
      (a) => a.reshape([B, S, this.radix, C, 1, 1]),
    );
    using weighted = splits.mul(weights);
    using summed = weighted.sum(2);
    return summed.reshape([B, S * C, H, W]);
  }
}
