// What the server needs of a model: the Ensemble predictor's description and its predict(),
// as an interface so a test can put a wrapper in front (a slow forward for the overload test)
// without the server carrying test-only switches. forwardOf turns predict() into the batcher's
// Forward: flat floats in, flat outputs out, every tensor freed before it returns.
import type { Ensemble } from "../infer/predictor.js";
import { tensor } from "../tensor/creation.js";
import type { BatchOutputs, Forward } from "./batcher.js";

/** The parts of an Ensemble that serving uses. */
export type ServedModel = Pick<
  Ensemble,
  "arch" | "split" | "dataset" | "crop" | "numClasses" | "mode" | "rule" | "classNames" | "predict"
>;

/** The batcher's forward pass over `model`: n×3×crop×crop floats → the ensemble's outputs. */
export function forwardOf(model: ServedModel): Forward {
  return async (images, n) => {
    const c = model.crop;
    const x = tensor(images, { shape: [n, 3, c, c] });
    try {
      using p = await model.predict(x);
      const flat = (t: { toTypedArray(): unknown }) => t.toTypedArray() as Float32Array;
      const out: BatchOutputs = {
        n,
        numClasses: model.numClasses,
        probabilities: flat(p.probabilities),
        scores: flat(p.scores),
        members: p.members.map(flat),
      };
      return out;
    } finally {
      x.dispose();
    }
  };
}
