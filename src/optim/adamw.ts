// AdamW (decoupled weight decay), the update of torch.optim.AdamW:
//   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
//   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + eps)
import { Tensor } from "../tensor/tensor.js";
import { zerosLike } from "../tensor/creation.js";
import { Optimizer, checkNonNegative, type ParamGroup, type ParamsInput } from "./optimizer.js";
import * as fe from "./foreach.js";

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: ParamsInput<AdamWOptions>, o: Partial<AdamWOptions> & { lr: number }) {
    super(params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, ...o }, "AdamW");
  }

  protected validate(o: AdamWOptions): void {
    checkNonNegative("AdamW", "lr", o.lr);
    checkNonNegative("AdamW", "eps", o.eps);
    checkNonNegative("AdamW", "weightDecay", o.weightDecay);
    for (const [k, b] of [
      ["beta1", o.beta1],
      ["beta2", o.beta2],
    ] as const) {
      if (!(b >= 0 && b < 1)) throw new RangeError(`AdamW: ${k} must be in [0, 1), got ${b}`);
    }
  }

  protected update(group: ParamGroup<AdamWOptions>, params: Tensor[], grads: Tensor[]): void {
    const { lr, beta1, beta2, eps, weightDecay } = group.options;
    // All parameters of a group step together; the counter of the first one stands for them.
    const t = (this.steps.get(params[0]) ?? 0) + 1;
    const m: Tensor[] = [];
    const v: Tensor[] = [];
    for (const p of params) {
      const s = this.stateOf(p);
      s.exp_avg ??= zerosLike(p).keep();
      s.exp_avg_sq ??= zerosLike(p).keep();
      m.push(s.exp_avg);
      v.push(s.exp_avg_sq);
      this.steps.set(p, t);
    }
    if (weightDecay !== 0) fe.mulScalar_(params, 1 - lr * weightDecay);
    fe.mulScalar_(m, beta1);
    fe.addList_(m, grads, 1 - beta1);
    fe.mulScalar_(v, beta2);
    fe.addcmul_(v, grads, grads, 1 - beta2);
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const denom = fe.sqrt(v);
    try {
      fe.divScalar_(denom, Math.sqrt(bc2));
      fe.addScalar_(denom, eps);
      fe.addcdiv_(params, m, denom, -lr / bc1);
    } finally {
      fe.disposeAll(denom);
    }
  }
}
