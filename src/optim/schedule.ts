// Per-iteration learning-rate schedules, as the reference's lr_scheduler (REFERENCE.md §6.1):
// with T = epoch·itersPerEpoch + i,
//   warm-up (T ≤ W, W = warmupEpochs·iters):  lr = min(startLr + (T/W)·(lr0 − startLr), lr0)
//   then, with T' = T − W and T_total = (epochs − warmupEpochs)·iters:
//     cos:  0.5·lr0·(1 + cos(π·T'/T_total))          poly: lr0·(1 − T'/T_total)^0.9
//     HTD:  0.5·lr0·(1 − tanh(lo + (hi − lo)·T'/T_total))
//     step: lr0·multiplier^(number of milestones ≤ epoch)
//     exponential: lr0·decay^floor(T'/(decayEpochs·iters))
//   and finally lr = max(lr, endLr).

export type LrMode = "cos" | "poly" | "HTD" | "step" | "exponential";

export interface LrScheduleOptions {
  mode: LrMode;
  lr: number;
  epochs: number;
  itersPerEpoch: number;
  warmupEpochs: number;
  warmupStartLr: number;
  endLr: number;
  milestones: number[];
  stepMultiplier: number;
  htdBounds: [number, number];
  decayFactor: number;
  decayEpochs: number;
}

export const LR_DEFAULTS: Omit<LrScheduleOptions, "lr" | "epochs" | "itersPerEpoch"> = {
  mode: "cos",
  warmupEpochs: 0,
  warmupStartLr: 5e-3, // §6.1 slow_start_lr
  endLr: 1e-4, // §6.1 end_lr
  milestones: [100, 150], // §8.2 --lr_milestones
  stepMultiplier: 0.1,
  htdBounds: [-6, 3],
  decayFactor: 0.97,
  decayEpochs: 0.8,
};

export class LrSchedule {
  constructor(readonly o: LrScheduleOptions) {
    if (!(o.lr > 0)) throw new RangeError(`lr must be > 0, got ${o.lr}`);
    if (!(o.itersPerEpoch > 0))
      throw new RangeError(`itersPerEpoch must be > 0, got ${o.itersPerEpoch}`);
    if (!(o.warmupEpochs >= 0) || (o.warmupEpochs > 0 && o.warmupEpochs >= o.epochs)) {
      throw new RangeError(
        `warm-up epochs (${o.warmupEpochs}) must be fewer than the epochs (${o.epochs})`,
      );
    }
    if (!["cos", "poly", "HTD", "step", "exponential"].includes(o.mode)) {
      throw new RangeError(`unknown lr mode "${o.mode}"; use cos, poly, HTD, step or exponential`);
    }
  }

  /** The learning rate for iteration i of epoch `epoch` (both from 0). */
  at(epoch: number, i: number): number {
    const o = this.o;
    const warm = o.warmupEpochs * o.itersPerEpoch;
    const total = (o.epochs - o.warmupEpochs) * o.itersPerEpoch;
    const T = epoch * o.itersPerEpoch + i;
    let lr: number;
    if (warm > 0 && T <= warm) {
      lr = Math.min((T / warm) * (o.lr - o.warmupStartLr) + o.warmupStartLr, o.lr);
    } else {
      const t = T - warm;
      switch (o.mode) {
        case "cos":
          lr = 0.5 * o.lr * (1 + Math.cos((t / total) * Math.PI));
          break;
        case "poly":
          // Clamped at 0: past the last epoch (the reference trains epochs + 1) its formula
          // takes a negative number to the power 0.9 and fails; here the end_lr floor applies.
          lr = o.lr * Math.pow(Math.max(1 - t / total, 0), 0.9);
          break;
        case "HTD": {
          const [lo, hi] = o.htdBounds;
          lr = 0.5 * o.lr * (1 - Math.tanh(lo + (hi - lo) * (t / total)));
          break;
        }
        case "step":
          lr = o.lr * Math.pow(o.stepMultiplier, o.milestones.filter((m) => epoch >= m).length);
          break;
        case "exponential":
          lr = o.lr * Math.pow(o.decayFactor, Math.floor(t / (o.decayEpochs * o.itersPerEpoch)));
          break;
      }
    }
    return Math.max(lr, o.endLr);
  }
}
