// The addon is loaded once per process but used from several JavaScript isolates at once (the
// worker threads of concurrent members). Its process-wide state must hand every thread the right
// operator for a name, and per-thread libtorch modes must stay per thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { native } from "../../src/tensor/index.js";
import { Rng } from "../../src/data/prng.js";

const WORKER = new URL("../helpers/native_thread_worker.js", import.meta.url);

function run<T>(data: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: data });
    w.once("message", (m: T) => {
      resolve(m);
      void w.terminate();
    });
    w.once("error", reject);
  });
}

// Operators with and without overloads, some never looked up by divco itself, so first lookups
// race too. Each worker walks them in its own order.
const NAMES: [string, string][] = [
  ["aten::empty_like", ""],
  ["aten::zeros_like", ""],
  ["aten::ones_like", ""],
  ["aten::add", "Tensor"],
  ["aten::add", "Scalar"],
  ["aten::sub", "Tensor"],
  ["aten::mul", "Tensor"],
  ["aten::div", "Tensor"],
  ["aten::sin", ""],
  ["aten::cos", ""],
  ["aten::tan", ""],
  ["aten::tanh", ""],
  ["aten::sinh", ""],
  ["aten::cosh", ""],
  ["aten::asin", ""],
  ["aten::acos", ""],
  ["aten::atan", ""],
  ["aten::atan2", ""],
  ["aten::erf", ""],
  ["aten::erfc", ""],
  ["aten::expm1", ""],
  ["aten::log2", ""],
  ["aten::log10", ""],
  ["aten::trunc", ""],
  ["aten::frac", ""],
  ["aten::hypot", ""],
  ["aten::lgamma", ""],
  ["aten::digamma", ""],
  ["aten::sigmoid", ""],
  ["aten::relu", ""],
  ["aten::gelu", ""],
  ["aten::silu", ""],
  ["aten::mish", ""],
  ["aten::softplus", ""],
  ["aten::hardtanh", ""],
  ["aten::elu", ""],
  ["aten::selu", ""],
  ["aten::celu", ""],
  ["aten::cumsum", ""],
  ["aten::cumprod", ""],
  ["aten::logsumexp", ""],
  ["aten::std", "dim"],
  ["aten::var", "dim"],
  ["aten::median", ""],
  ["aten::mode", ""],
  ["aten::sort", ""],
  ["aten::argsort", ""],
  ["aten::kthvalue", ""],
  ["aten::tril", ""],
  ["aten::triu", ""],
  ["aten::diag", ""],
  ["aten::trace", ""],
  ["aten::outer", ""],
  ["aten::dot", ""],
  ["aten::mv", ""],
  ["aten::mm", ""],
  ["aten::bmm", ""],
  ["aten::baddbmm", ""],
  ["aten::addmm", ""],
  ["aten::einsum", ""],
  ["aten::kron", ""],
  ["aten::cross", ""],
];

// Each worker's own order, from the project's seeded generator.
const shuffled = <T>(xs: readonly T[], seed: number): T[] =>
  [...Rng.fromKeys(seed).permutation(xs.length)].map((i) => xs[i]!);

test("operator lookups from concurrent worker threads each get the operator they named", async () => {
  const orders = [1, 2, 3, 4].map((seed) => shuffled(NAMES, seed));
  const results = await Promise.all(
    orders.map((names) => run<{ ids: number[][] }>({ kind: "lookup", names, rounds: 40 })),
  );
  const idOf = new Map<string, number>();
  results.forEach(({ ids }, w) => {
    for (const round of ids) {
      round.forEach((id, i) => {
        const [name, overload] = orders[w]![i]!;
        const label = overload ? `${name}.${overload}` : name;
        const schema = native.opSchema(id);
        assert.ok(
          schema.startsWith(`${label}(`),
          `worker ${w} looked up ${label} and got id ${id}, which is ${schema}`,
        );
        // One operator, one id, whichever thread asked first.
        const seen = idOf.get(label);
        if (seen === undefined) idOf.set(label, id);
        else assert.equal(id, seen, `${label} got two ids`);
      });
    }
  });
  assert.equal(idOf.size, NAMES.length);
  // The main thread's own lookup agrees with the workers'.
  assert.equal(native.opLookup("aten::sin", ""), idOf.get("aten::sin"));
});

test("inference mode on a worker thread neither sees nor ends the main thread's", async () => {
  assert.equal(native.isInferenceMode(), false);
  native.enterInferenceMode();
  try {
    const r = await run<{ before: boolean; depth: number; inside: boolean; after: boolean }>({
      kind: "inference",
    });
    assert.deepEqual(r, { before: false, depth: 1, inside: true, after: false });
    assert.equal(
      native.isInferenceMode(),
      true,
      "the worker's exit closed the main thread's scope",
    );
  } finally {
    native.exitInferenceMode();
  }
  assert.equal(native.isInferenceMode(), false);
});
