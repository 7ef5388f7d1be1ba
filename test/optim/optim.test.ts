// Optimisers step exactly as PyTorch's (fixtures/engine/optim), and resume from saved state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SGD, AdamW, RMSprop, type Optimizer } from "../../src/optim/index.js";
import { scope, type Tensor } from "../../src/tensor/index.js";
import { fixture, get, assertClose } from "../helpers/engine.js";

const fx = fixture("optim");
type Make = (ps: Tensor[]) => Optimizer<{ lr: number }>;
const configs: Record<string, Make> = {
  sgd_nesterov_wd: (ps) =>
    new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-2 }),
  sgd_damp: (ps) => new SGD(ps, { lr: 0.05, momentum: 0.8, dampening: 0.3 }),
  sgd_plain: (ps) => new SGD(ps, { lr: 0.2 }),
  adamw: (ps) => new AdamW(ps, { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 }),
  rmsprop: (ps) =>
    new RMSprop(ps, { lr: 0.01, alpha: 0.9, eps: 1e-3, weightDecay: 0.01, momentum: 0.9 }),
  rmsprop_centered: (ps) => new RMSprop(ps, { lr: 0.01, centered: true }),
};

function run(make: Make, steps: number[], resumeAfter?: number): Tensor[] {
  const ps = [
    get(fx, "p0.0").clone().requiresGrad_().keep(),
    get(fx, "p0.1").clone().requiresGrad_().keep(),
  ];
  let opt = make(ps);
  for (const s of steps) {
    if (resumeAfter !== undefined && s === resumeAfter) {
      // Save, throw the optimiser away, restore into a new one: the next steps must not notice.
      const saved = opt.stateDict();
      const copy = {
        ...saved,
        tensors: new Map([...saved.tensors].map(([k, t]) => [k, t.clone()])),
      };
      opt.dispose();
      opt = make(ps);
      opt.loadStateDict(copy);
    }
    ps.forEach((p, i) => (p.grad = get(fx, `g${s}.${i}`).clone()));
    opt.step();
  }
  opt.dispose();
  return ps;
}

for (const [name, make] of Object.entries(configs)) {
  test(`${name}: three steps equal PyTorch's`, () =>
    scope(() => {
      const ps = run(make, [0, 1, 2]);
      ps.forEach((p, i) =>
        assertClose(p, get(fx, `${name}.${i}`), `${name} param ${i}`, 1e-5, 1e-6),
      );
      ps.forEach((p) => p.dispose());
    }));
  test(`${name}: saving and restoring state mid-run changes nothing`, () =>
    scope(() => {
      const ps = run(make, [0, 1, 2], 2);
      ps.forEach((p, i) =>
        assertClose(p, get(fx, `${name}.${i}`), `${name} param ${i} after resume`, 1e-5, 1e-6),
      );
      ps.forEach((p) => p.dispose());
    }));
}

test("parameter groups take their own options; bad options are clear errors", () =>
  scope(() => {
    const a = get(fx, "p0.0").clone().requiresGrad_().keep();
    const b = get(fx, "p0.1").clone().requiresGrad_().keep();
    const opt = new SGD([{ params: [a] }, { params: [b], options: { lr: 0 } }], { lr: 1 });
    a.grad = get(fx, "g0.0").clone();
    b.grad = get(fx, "g0.1").clone();
    const b0 = b.toArray();
    opt.step();
    assert.deepEqual(b.toArray(), b0, "lr 0 group unchanged");
    assertClose(a, get(fx, "p0.0").sub(get(fx, "g0.0")), "lr 1 group", 1e-6, 1e-6);
    assert.throws(() => new SGD([a], { lr: -1 }), /lr must be/);
    assert.throws(() => new SGD([a], { lr: 0.1, nesterov: true }), /Nesterov/);
    assert.throws(
      () => new SGD([{ params: [a] }, { params: [a] }], { lr: 0.1 }),
      /more than one group/,
    );
    a.dispose();
    b.dispose();
  }));
