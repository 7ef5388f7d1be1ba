// The worker-thread side of a member pool (member_pool.ts). Each worker builds its own copy of
// the member networks it is given and rebinds their parameters and buffers to the main
// thread's tensors (handles are process-wide), so forward, backward, gradient accumulation and
// batch-norm statistics all act on the main thread's model: no weights are copied. The worker
// then answers forward / backward requests; the main thread combines the members' outputs
// (the ensemble, or the co-training loss and the optimiser step).
import { parentPort, workerData } from "node:worker_threads";
import { lookup, type BuildOptions } from "../models/registry.js";
import "../models/index.js";
import type { Module } from "../nn/module.js";
import { Tensor } from "../tensor/tensor.js";
import type { TensorHandle } from "../tensor/native.js";
import { native } from "../tensor/native.js";
import { scope } from "../tensor/scope.js";
import { inferenceMode } from "../tensor/autograd.js";
import { releaseFreeMemory, setNumThreads } from "../tensor/runtime.js";
import type { WorkerReply, WorkerRequest, WorkerSetup } from "./pool_protocol.js";

const setup = workerData as WorkerSetup;
const port = parentPort!;
// Per-thread intra-op threads: OpenMP keeps the count per thread, so this worker's kernels
// use `threads` while the main thread keeps its own (it initialised its count long before).
// ATen also records the value as the default for threads that start computing later; divco's
// other threads (data-loader workers) run no parallel kernels, so that is harmless.
setNumThreads(setup.threads);

const entry = lookup(setup.arch);
const nets: Module[] = setup.members.map(({ state }) => {
  const net = entry.member(setup.options as BuildOptions);
  net.shareState(new Map(state.map(([k, h]) => [k, Tensor.borrow(h as TensorHandle)])));
  return net;
});
// Building a member allocated (and initialised) a full set of weights that shareState has just
// released; the allocator would keep that memory resident. Give it back: the pool then costs
// the process its workers' activations, not a second copy of the weights.
releaseFreeMemory();
// The outputs of the last forward: waiting for their backward (training), or read by the main
// thread (inference); freed by the next request.
let pending: Tensor[] = [];

function release(): void {
  for (const t of pending) t.dispose();
  pending = [];
}

function forward(net: Module, input: number, training: boolean, inference: boolean): Tensor {
  const x = Tensor.borrow(input as TensorHandle);
  if (inference) {
    if (net.training) net.eval();
    return inferenceMode(() => scope(() => net.forward(x)).keep());
  }
  net.train(training);
  return scope(() => net.forward(x)).keep();
}

function handle(msg: WorkerRequest): WorkerReply {
  switch (msg.type) {
    case "forward": {
      release();
      pending = nets.map((net, j) =>
        forward(net, msg.inputs[j], msg.training, msg.inference ?? false),
      );
      return { type: "forward", logits: pending.map((t) => t.handle) };
    }
    case "backward": {
      if (pending.length !== nets.length) throw new Error("backward without a forward");
      for (let j = 0; j < nets.length; j++) {
        native.backward([pending[j].handle], [msg.grads[j] as TensorHandle], false, false);
      }
      release();
      return { type: "backward" };
    }
    case "release":
      release();
      return { type: "release" };
    case "close":
      release();
      // Drops this thread's references; the shared tensors live on in the main thread.
      for (const net of nets) net.dispose();
      return { type: "close" };
  }
}

port.on("message", (msg: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = handle(msg);
  } catch (e) {
    release();
    reply = { type: "error", message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
  if (msg.type === "close") port.close();
});
port.postMessage({ type: "ready" } satisfies WorkerReply);
