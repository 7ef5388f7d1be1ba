// Initialisation functions against torch.nn.init: the same numbers for the same seed (divco's
// generators are libtorch's), with the default generator and with an explicit one; gains and
// fans as calculate_gain and _calculate_fan_in_and_fan_out give them; the constant fills.
// Fixture: test/fixtures/nn/init.safetensors; regenerate with
//   /usr/bin/python3 scripts/fixtures/nn/make_nn_fixtures.py
import { test } from "node:test";
import assert from "node:assert/strict";
import { init } from "../../src/nn/index.js";
import { empty, Generator, manualSeed, randn, scope, type Tensor } from "../../src/tensor/index.js";
import { get, assertClose } from "../helpers/engine.js";
import { nnFixture } from "./helpers.js";

const fx = nnFixture("init");
const W = [6, 3, 2, 2];

// make_nn_fixtures.py's INIT_CASES: (name, seed, shape, the same initialisation in divco).
const CASES: [string, number, number[], (t: Tensor) => Tensor][] = [
  ["kaiming_normal_default", 501, W, (t) => init.kaimingNormal_(t)],
  [
    "kaiming_normal_fanout_relu",
    502,
    W,
    (t) => init.kaimingNormal_(t, { mode: "fanOut", nonlinearity: "relu" }),
  ],
  ["kaiming_normal_2d", 503, [7, 5], (t) => init.kaimingNormal_(t, { a: 0.1 })],
  ["kaiming_uniform_a5", 504, W, (t) => init.kaimingUniform_(t, { a: Math.sqrt(5) })],
  [
    "kaiming_uniform_fanout_leaky02",
    505,
    W,
    (t) => init.kaimingUniform_(t, { a: 0.2, mode: "fanOut", nonlinearity: "leakyRelu" }),
  ],
  ["normal", 506, W, (t) => init.normal_(t, 0.5, 0.02)],
  ["normal_short", 507, [5], (t) => init.normal_(t, -1, 2)],
  ["uniform", 508, W, (t) => init.uniform_(t, -0.3, 0.7)],
  ["xavier_uniform", 509, W, (t) => init.xavierUniform_(t)],
  ["xavier_uniform_tanh", 510, W, (t) => init.xavierUniform_(t, init.gain("tanh"))],
];

for (const [name, seed, shape, f] of CASES) {
  test(`init ${name} draws PyTorch's numbers for the same seed`, () =>
    scope(() => {
      const t = empty(shape);
      manualSeed(seed);
      assert.equal(f(t), t, "initialises in place and returns the tensor");
      assertClose(t, get(fx, name), name, 0, 0);
    }));
}

test("init with an explicit generator draws what PyTorch's generator does", () =>
  scope(() => {
    const t = empty(W);
    init.normal_(t, 0, 0.1, new Generator(511));
    assertClose(t, get(fx, "normal_generator"), "normal_ with a generator", 0, 0);
  }));

test("init functions run without recording gradients, on parameters too", () =>
  scope(() => {
    const p = empty(W).requiresGrad_();
    init.kaimingNormal_(p);
    init.zeros_(p);
    assert.equal(p.isLeaf, true);
    assert.equal(p.gradFn, null);
  }));

test("gain equals calculate_gain; fans equal _calculate_fan_in_and_fan_out", () =>
  scope(() => {
    const gains = [
      init.gain("linear"),
      init.gain("sigmoid"),
      init.gain("tanh"),
      init.gain("relu"),
      init.gain("leakyRelu"),
      init.gain("leakyRelu", 0.2),
      init.gain("selu"),
    ];
    const want = get(fx, "gains").toArray();
    gains.forEach((g, i) =>
      assert.ok(Math.abs(g - want[i]) <= 1e-15, `gain ${i}: ${g} vs ${want[i]}`),
    );
    [
      [6, 3, 2, 2],
      [7, 5],
      [4, 2, 3, 1, 2],
    ].forEach((shape, i) => {
      const { fanIn, fanOut } = init.fans(empty(shape));
      assert.deepEqual([fanIn, fanOut], get(fx, `fans${i}`).toArray(), `fans of [${shape}]`);
    });
    assert.throws(
      () => init.fans(empty([5])),
      /fans: need a weight with at least 2 dimensions, got \[5\]/,
    );
  }));

test("constant_, zeros_ and ones_ fill every element", () =>
  scope(() => {
    const t = randn(W);
    assert.equal(init.constant_(t, 0.25), t);
    assert.ok(t.toArray().every((v) => v === 0.25));
    init.zeros_(t);
    assert.ok(t.toArray().every((v) => v === 0));
    init.ones_(t);
    assert.ok(t.toArray().every((v) => v === 1));
  }));
