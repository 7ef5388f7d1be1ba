// Module: PyTorch names, state dicts (strict errors list what is wrong), modes, conversion,
// and a small network whose logits, loss, gradients and running statistics equal PyTorch's.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Module,
  Conv2d,
  BatchNorm2d,
  Linear,
  Sequential,
  ModuleList,
  ReLU,
  Dropout,
  StateDictError,
  F,
  init,
} from "../../src/nn/index.js";
import { randn, scope, zeros, manualSeed, ones, type Tensor } from "../../src/tensor/index.js";
import { fixture, get, assertClose } from "../helpers/engine.js";

class Small extends Module {
  conv1 = this.module("conv1", new Conv2d(3, 8, 3, { padding: 1, bias: false }));
  bn1 = this.module("bn1", new BatchNorm2d(8));
  conv2 = this.module("conv2", new Conv2d(8, 8, 3, { stride: 2, padding: 1, groups: 2 }));
  bn2 = this.module("bn2", new BatchNorm2d(8));
  fc = this.module("fc", new Linear(8, 5));
  forward(x: Tensor): Tensor {
    const a = F.maxPool2d(F.relu(this.bn1.forward(this.conv1.forward(x))), 2);
    const b = F.relu(this.bn2.forward(this.conv2.forward(a)));
    return this.fc.forward(F.adaptiveAvgPool2d(b, 1).flatten(1));
  }
}

test("parameter and buffer names are PyTorch's state-dict keys, in PyTorch's order", () => {
  const m = new Small();
  assert.deepEqual(
    [...m.stateDict().keys()],
    [
      "conv1.weight",
      "bn1.weight",
      "bn1.bias",
      "bn1.running_mean",
      "bn1.running_var",
      "bn1.num_batches_tracked",
      "conv2.weight",
      "conv2.bias",
      "bn2.weight",
      "bn2.bias",
      "bn2.running_mean",
      "bn2.running_var",
      "bn2.num_batches_tracked",
      "fc.weight",
      "fc.bias",
    ],
  );
  const seq = new Sequential(new Conv2d(1, 2, 1), new ReLU(), new ModuleList([new Linear(2, 2)]));
  assert.deepEqual([...seq.stateDict().keys()], ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]);
  assert.equal(m.numParameters(), 8 * 3 * 9 + 16 + 8 * 4 * 9 + 8 + 16 + 8 * 5 + 5);
  m.dispose();
  seq.dispose();
});

test("logits, loss, gradients and running statistics equal PyTorch's (fixtures/engine/grads)", () =>
  scope(() => {
    const fx = fixture("grads");
    const m = new Small().to("f64");
    const state = new Map(
      [...fx].filter(([k]) => k.startsWith("param.")).map(([k, v]) => [k.slice(6), v]),
    );
    m.loadStateDict(state);
    const logits = m.forward(get(fx, "input"));
    assertClose(logits, get(fx, "logits"), "logits", 1e-10, 1e-12);
    const loss = F.crossEntropy(logits, get(fx, "target"));
    assertClose(loss, get(fx, "loss"), "loss", 1e-10, 1e-12);
    loss.backward();
    for (const [name, p] of m.namedParameters())
      assertClose(p.grad!, get(fx, `grad.${name}`), `grad of ${name}`, 1e-8, 1e-10);
    for (const [name, b] of m.namedBuffers())
      assertClose(b, get(fx, `after.${name}`), `buffer ${name}`, 1e-10, 1e-12);
    m.dispose();
  }));

test("loadStateDict lists missing, unexpected and mis-shaped keys and loads nothing", () =>
  scope(() => {
    const m = new Small();
    const before = m.conv1.weight.toArray();
    const sd = new Map(m.stateDict());
    sd.delete("fc.bias");
    sd.set("extra.weight", zeros([1]));
    sd.set("conv1.weight", zeros([8, 3, 5, 5]));
    sd.set("bn1.weight", ones([8]));
    assert.throws(
      () => m.loadStateDict(sd),
      (e: unknown) => {
        assert.ok(e instanceof StateDictError);
        assert.deepEqual(e.missing, ["fc.bias"]);
        assert.deepEqual(e.unexpected, ["extra.weight"]);
        assert.deepEqual(e.misShaped, [
          { key: "conv1.weight", expected: [8, 3, 3, 3], got: [8, 3, 5, 5] },
        ]);
        assert.match(e.message, /nothing was loaded/);
        return true;
      },
    );
    assert.deepEqual(m.conv1.weight.toArray(), before, "nothing half-loaded");
    sd.set("conv1.weight", zeros([8, 3, 3, 3]));
    const r = m.loadStateDict(sd, { strict: false });
    assert.deepEqual(r, { missing: ["fc.bias"], unexpected: ["extra.weight"] });
    assert.equal(m.conv1.weight.abs().sum().item(), 0);
    m.dispose();
  }));

test("train/eval switch batch norm and dropout; to() converts in place", () =>
  scope(() => {
    manualSeed(0);
    const m = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4), new Dropout(0.5));
    const x = randn([2, 3, 5, 5]);
    m.eval();
    assert.ok(m.layers.every((l) => !l.training));
    const a = m.forward(x).toArray();
    assert.deepEqual(m.forward(x).toArray(), a, "eval is deterministic");
    m.train();
    assert.notDeepEqual(m.forward(x).toArray(), a);
    const w = (m.at(0) as Conv2d).weight;
    m.to({ memoryFormat: "channelsLast" });
    assert.ok(w.isContiguous("channelsLast"), "same tensor object, new layout");
    m.to("f64");
    assert.equal(w.dtype, "f64");
    assert.equal(
      (m.at(1) as BatchNorm2d).numBatchesTracked!.dtype,
      "i64",
      "integer buffers keep their dtype",
    );
    m.dispose();
  }));

test("kaiming initialisation has the analytic standard deviation", () =>
  scope(() => {
    const w = zeros([256, 128, 3, 3]);
    init.kaimingNormal_(w, { mode: "fanOut", nonlinearity: "relu" });
    const expected = Math.SQRT2 / Math.sqrt(256 * 9);
    assert.ok(Math.abs(w.std().item() / expected - 1) < 0.01);
    init.kaimingUniform_(w, { a: Math.sqrt(5) });
    const bound = Math.sqrt(6 / 6) / Math.sqrt(128 * 9);
    assert.ok(w.abs().max().item() <= bound && w.abs().max().item() > 0.99 * bound);
  }));
