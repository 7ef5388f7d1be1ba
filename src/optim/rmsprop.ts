// RMSprop, the update of torch.optim.RMSprop:
//   g ← grad + wd·p;  sq ← α·sq + (1−α)·g²;  avg ← √(sq − ga²) (centered, ga ← α·ga + (1−α)·g) or √sq;
//   avg ← avg + eps;  buf ← momentum·buf + g/avg, p ← p − lr·buf (momentum > 0) or p ← p − lr·g/avg
import { Tensor } from "../tensor/tensor.js";
import { zerosLike } from "../tensor/creation.js";
import { Optimizer, checkNonNegative, type ParamGroup, type ParamsInput } from "./optimizer.js";
import * as fe from "./foreach.js";

export interface RMSpropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: ParamsInput<RMSpropOptions>, o: Partial<RMSpropOptions> & { lr: number }) {
    super(
      params,
      { alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, ...o },
      "RMSprop",
    );
  }

  protected validate(o: RMSpropOptions): void {
    checkNonNegative("RMSprop", "lr", o.lr);
    checkNonNegative("RMSprop", "eps", o.eps);
    checkNonNegative("RMSprop", "momentum", o.momentum);
    checkNonNegative("RMSprop", "weightDecay", o.weightDecay);
    if (!(o.alpha >= 0 && o.alpha <= 1))
      throw new RangeError(`RMSprop: alpha must be in [0, 1], got ${o.alpha}`);
  }

  protected update(group: ParamGroup<RMSpropOptions>, params: Tensor[], grads: Tensor[]): void {
    const { lr, alpha, eps, weightDecay, momentum, centered } = group.options;
    const g = weightDecay !== 0 ? fe.addList(grads, params, weightDecay) : grads;
    const temps: Tensor[] = g === grads ? [] : [...g];
    try {
      const sq: Tensor[] = [];
      const ga: Tensor[] = [];
      const buf: Tensor[] = [];
      for (const p of params) {
        const s = this.stateOf(p);
        s.square_avg ??= zerosLike(p).keep();
        sq.push(s.square_avg);
        if (centered) ga.push((s.grad_avg ??= zerosLike(p).keep()));
        if (momentum > 0) buf.push((s.momentum_buffer ??= zerosLike(p).keep()));
        this.steps.set(p, (this.steps.get(p) ?? 0) + 1);
      }
      fe.mulScalar_(sq, alpha);
      fe.addcmul_(sq, g, g, 1 - alpha);
      let avg: Tensor[];
      if (centered) {
        fe.mulScalar_(ga, alpha);
        fe.addList_(ga, g, 1 - alpha);
        const gaSq = ga.map((x) => x.mul(x));
        const diff = fe.addList(sq, gaSq, -1);
        fe.disposeAll(gaSq);
        avg = fe.sqrt(diff);
        fe.disposeAll(diff);
      } else {
        avg = fe.sqrt(sq);
      }
      temps.push(...avg);
      fe.addScalar_(avg, eps);
      if (momentum > 0) {
        fe.mulScalar_(buf, momentum);
        fe.addcdiv_(buf, g, avg, 1);
        fe.addList_(params, buf, -lr);
      } else {
        fe.addcdiv_(params, g, avg, -lr);
      }
    } finally {
      fe.disposeAll(temps);
    }
  }
}
