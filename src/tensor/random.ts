// Seeded random number generators (libtorch's Philox/MT generators, so sequences equal PyTorch's
// for the same seed and call order).
import { native, type GeneratorHandle } from "./native.js";
import { Tensor, wrap, type Device } from "./tensor.js";

export class Generator {
  readonly handle: GeneratorHandle;
  constructor(seed: number, device: Device = "cpu") {
    checkSeed(seed);
    this.handle = native.newGenerator(seed, device);
  }
  /** The full state as a u8 tensor, to store in a checkpoint. */
  getState(): Tensor {
    return wrap(native.generatorState(this.handle));
  }
  setState(state: Tensor): void {
    native.setGeneratorState(this.handle, state.handle);
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  }
}

/** Seeds libtorch's default generators (CPU and every CUDA device), like torch.manual_seed. */
export function manualSeed(seed: number): void {
  checkSeed(seed);
  native.manualSeed(seed);
}

/** The default CPU generator's state, and a way to restore it (for bit-exact resume). */
export function defaultGeneratorState(): Tensor {
  return wrap(native.generatorState(native.defaultGenerator()));
}
export function setDefaultGeneratorState(state: Tensor): void {
  native.setGeneratorState(native.defaultGenerator(), state.handle);
}
