// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay — the
// update of torch.optim.SGD, step for step:
//   g ← grad + wd·p;  buf ← g (first step) or momentum·buf + (1 − dampening)·g;
//   d ← g + momentum·buf (Nesterov) or buf;  p ← p − lr·d
import { Tensor } from "../tensor/tensor.js";
import { Optimizer, checkNonNegative, type ParamGroup, type ParamsInput } from "./optimizer.js";
import * as fe from "./foreach.js";

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, o: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...o }, "SGD");
  }

  protected validate(o: SGDOptions): void {
    checkNonNegative("SGD", "lr", o.lr);
    checkNonNegative("SGD", "momentum", o.momentum);
    checkNonNegative("SGD", "weightDecay", o.weightDecay);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new RangeError("SGD: Nesterov momentum needs momentum > 0 and dampening 0");
    }
  }

  protected update(group: ParamGroup<SGDOptions>, params: Tensor[], grads: Tensor[]): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group.options;
    // Out-of-place so the parameters' .grad stay as backward left them.
    let d = weightDecay !== 0 ? fe.addList(grads, params, weightDecay) : grads;
    let made: Tensor[] = d === grads ? [] : d;
    try {
      if (momentum !== 0) {
        const bufs: Tensor[] = [];
        const oldBufs: Tensor[] = [];
        const oldD: Tensor[] = [];
        for (let i = 0; i < params.length; i++) {
          const s = this.stateOf(params[i]);
          if (s.momentum_buffer) {
            oldBufs.push(s.momentum_buffer);
            oldD.push(d[i]);
          } else {
            s.momentum_buffer = d[i].clone().keep();
          }
          bufs.push(s.momentum_buffer);
        }
        if (oldBufs.length) {
          fe.mulScalar_(oldBufs, momentum);
          fe.addList_(oldBufs, oldD, 1 - dampening);
        }
        if (nesterov) {
          const step = fe.addList(d, bufs, momentum);
          fe.disposeAll(made);
          made = step;
          d = step;
        } else {
          d = bufs;
        }
      }
      fe.addList_(params, d, -lr);
      for (const p of params) this.steps.set(p, (this.steps.get(p) ?? 0) + 1);
    } finally {
      fe.disposeAll(made);
    }
  }
}
