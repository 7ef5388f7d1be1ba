// Gradient-mode scopes and multi-output backward.
import { native } from "./native.js";
import type { Tensor } from "./tensor.js";

/** Runs fn with gradient recording off (like torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const was = native.gradEnabled();
  native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(was);
  }
}

/** Runs fn with gradient recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const was = native.gradEnabled();
  native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(was);
  }
}

/**
 * Runs fn in inference mode (like torch.inference_mode()): faster than noGrad, but tensors made
 * inside can never take part in autograd later. Use it for evaluation and serving.
 */
export function inferenceMode<T>(fn: () => T): T {
  native.enterInferenceMode();
  try {
    return fn();
  } finally {
    native.exitInferenceMode();
  }
}

export function isGradEnabled(): boolean {
  return native.gradEnabled();
}

/** Backpropagates from several outputs at once, each with its gradient (null for scalars). */
export function backward(
  outputs: Tensor[],
  grads?: (Tensor | null)[],
  opts: { retainGraph?: boolean } = {},
): void {
  native.backward(
    outputs.map((t) => t.handle),
    grads ? grads.map((g) => (g ? g.handle : null)) : null,
    opts.retainGraph,
    false,
  );
}
