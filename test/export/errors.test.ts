// What cannot become an ONNX graph is refused with a message naming the ATen operator and the
// module path (and class) where it ran: an operator without an ONNX mapping, a random draw in the
// evaluation forward, reading computed values into JavaScript, a constant whose shape follows the
// batch size (fine with a fixed batch), reading a view that an in-place operation changed, and
// writing a parameter. Also: the schema parser the recorder relies on.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Module, Conv2d, Linear, F } from "../../src/nn/index.js";
import { Members } from "../../src/models/members.js";
import { anyOp, native, zeros, type Tensor } from "../../src/tensor/index.js";
import { exportOnnx, verifyExport, ExportError } from "../../src/export/index.js";
import { parseSchema } from "../../src/export/aten_schema.js";
import { tempDir } from "./helpers.js";

/** conv → `middle` (the module under test, child "middle") → global pool → linear. */
class Toy extends Module {
  readonly conv = this.module("conv", new Conv2d(3, 4, 3, { padding: 1 }));
  readonly fc = this.module("fc", new Linear(4, 5));
  constructor(readonly middle: Module) {
    super();
    this.module("middle", middle);
  }
  forward(x: Tensor): Tensor {
    using h = this.conv.forward(x);
    using m = this.middle.forward(h);
    using p = m.mean([2, 3]);
    return this.fc.forward(p);
  }
}

const toyMembers = (middle: Module): Members =>
  new Members("toy", { split: 1, dataset: "cifar10", numClasses: 5, crop: 8, extra: {} }, [
    new Toy(middle),
  ]);

function expectRefusal(middle: Module, pattern: RegExp, batch: "dynamic" | number = "dynamic") {
  const dir = tempDir("errors");
  const m = toyMembers(middle);
  try {
    assert.throws(
      () => exportOnnx(m, path.join(dir, "toy.onnx"), { batch }),
      (e: Error) => {
        assert.ok(e instanceof ExportError, `${e.name}: ${e.message}`);
        assert.match(e.message, pattern);
        return true;
      },
    );
    assert.deepEqual(fs.readdirSync(dir), [], "nothing is written");
  } finally {
    m.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

class XLogY extends Module {
  forward(x: Tensor): Tensor {
    return x.xlogy(x);
  }
}

test("an operator without an ONNX mapping is named with the module path and class", () => {
  expectRefusal(
    new XLogY(),
    /^aten::xlogy\.Tensor at models\.0\.middle \(XLogY\): divco export has no ONNX mapping for this operator\. Operators it maps: .*conv2d/,
  );
});

class AlwaysDropout extends Module {
  forward(x: Tensor): Tensor {
    return F.dropout(x, 0.5, true);
  }
}

test("a random draw in the evaluation forward is refused, naming it", () => {
  expectRefusal(
    new AlwaysDropout(),
    /^aten::dropout at models\.0\.middle \(AlwaysDropout\) draws random numbers in the evaluation forward/,
  );
});

class ReadsValues extends Module {
  forward(x: Tensor): Tensor {
    using top = x.max();
    return top.item() > 0 ? x.relu() : x.neg();
  }
}

test("reading a computed value into JavaScript (data-dependent control flow) is refused", () => {
  expectRefusal(
    new ReadsValues(),
    /reads the values of a tensor computed from the input into JavaScript at models\.0\.middle \(ReadsValues\)/,
  );
});

class AsksATen extends Module {
  forward(x: Tensor): Tensor {
    using top = x.max();
    return native.call(anyOp("is_nonzero"), top.handle) ? x.relu() : x.neg();
  }
}

test("an operator that returns a plain value computed from the input is refused", () => {
  expectRefusal(
    new AsksATen(),
    /^aten::is_nonzero at models\.0\.middle \(AsksATen\) returns a value computed from the input to JavaScript/,
  );
});

class AddsBatchSizedConstant extends Module {
  forward(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    using bias = zeros([n, c, h, w]).add_(0.5);
    return x.add(bias);
  }
}

test("a constant shaped by the batch size: refused for a dynamic batch, exported for a fixed one", async () => {
  expectRefusal(
    new AddsBatchSizedConstant(),
    /^aten::add\.Tensor at models\.0\.middle \(AddsBatchSizedConstant\): it reads a tensor of shape \[2,4,8,8\] made during the forward whose size follows the batch size; export for one batch size with --batch N/,
  );
  const dir = tempDir("fixed");
  const m = toyMembers(new AddsBatchSizedConstant());
  try {
    const e = exportOnnx(m, path.join(dir, "toy.onnx"), { batch: 3 });
    assert.deepEqual(e.inputShape, [3, 3, 8, 8]);
    const r = await verifyExport(e, m);
    assert.equal(r.batch, 3);
    assert.ok(r.ok, JSON.stringify(r.checks));
  } finally {
    m.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

class StaleView extends Module {
  forward(x: Tensor): Tensor {
    const y = x.add(1);
    using flat = y.view([-1]);
    y.relu_();
    using again = flat.mul(2);
    y.dispose();
    return again.view(x.shape);
  }
}

test("reading a view that an in-place operation changed through another view is refused", () => {
  expectRefusal(
    new StaleView(),
    /^aten::mul\.Scalar at models\.0\.middle \(StaleView\) reads a tensor that aten::relu_ at models\.0\.middle \(StaleView\) changed in place through another view/,
  );
});

class WritesItsParameter extends Module {
  readonly scale = this.param("scale", zeros([1]));
  forward(x: Tensor): Tensor {
    using m = x.mean();
    this.scale.add_(m);
    return x.mul(this.scale);
  }
}

test("writing a parameter during the forward is refused", () => {
  const m = new WritesItsParameter();
  m.scale.requiresGrad = false; // an in-place write to a leaf that needs no gradient
  expectRefusal(
    m,
    /^aten::add_\.Tensor at models\.0\.middle \(WritesItsParameter\) writes the model's models\.0\.middle\.scale during the forward/,
  );
});

test("ATen schemas: tensors, in-place arguments, lists, defaults and returns", () => {
  const conv = parseSchema(
    "aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[2] stride=1, int[2] padding=0, int[2] dilation=1, int groups=1) -> Tensor",
  );
  assert.equal(conv.spec, "conv2d");
  assert.deepEqual(
    conv.args.map((a) => [a.name, a.tensor, a.default]),
    [
      ["input", true, undefined],
      ["weight", true, undefined],
      ["bias", true, null],
      ["stride", false, 1],
      ["padding", false, 0],
      ["dilation", false, 1],
      ["groups", false, 1],
    ],
  );
  const add = parseSchema(
    "aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)",
  );
  assert.equal(add.spec, "add_.Tensor");
  assert.deepEqual(
    add.args.map((a) => [a.name, a.mutated]),
    [
      ["self", true],
      ["other", false],
      ["alpha", false],
    ],
  );
  const split = parseSchema(
    "aten::split.Tensor(Tensor(a -> *) self, int split_size, int dim=0) -> Tensor(a)[]",
  );
  assert.equal(split.returns, -1);
  assert.equal(split.args[0].tensor, true);
  assert.equal(split.args[0].mutated, false);
  const cat = parseSchema("aten::cat(Tensor[] tensors, int dim=0) -> Tensor");
  assert.equal(cat.args[0].tensorList, true);
  const maxDim = parseSchema(
    "aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
  );
  assert.equal(maxDim.returns, 2);
  assert.equal(maxDim.args[2].default, false);
  const gelu = parseSchema('aten::gelu(Tensor self, *, str approximate="none") -> Tensor');
  assert.equal(gelu.args[1].default, "none");
  const pool = parseSchema(
    "aten::max_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, int[2] dilation=1, bool ceil_mode=False) -> Tensor",
  );
  assert.deepEqual(pool.args[2].default, []);
});
