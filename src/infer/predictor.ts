// The ensemble predictor: a divided model loaded from a run directory, a weights file or an
// official checkpoint, run in one of the execution modes (engines.ts), its members' logits
// combined by the ensemble rules of evaluation (models/ensemble.ts, REFERENCE.md §4).
//
//   const e = await Ensemble.load({ run: "runs/wrn", checkpoint: "best" }, { mode: "auto" });
//   const p = await e.predict(images);        // N×3×H×W, normalised as the dataset's eval
//   p.topk(5); p.probabilities; p.members;    // then p.dispose(), and e.close() when done
import { create } from "../models/registry.js";
import type { Members } from "../models/members.js";
import { loadMembers, readRunCheckpoint, readWeights } from "../models/checkpoint.js";
import { ensemble, ENSEMBLE_RULES, type EnsembleRule } from "../models/ensemble.js";
import { softmax } from "../nn/functional.js";
import type { DatasetKind } from "../data/stats.js";
import { classNamesFor } from "../data/class_names.js";
import { tensor } from "../tensor/creation.js";
import { inferenceMode } from "../tensor/autograd.js";
import { scope } from "../tensor/scope.js";
import { getNumThreads } from "../tensor/runtime.js";
import type { Tensor } from "../tensor/tensor.js";
import type { MemoryFormatName } from "../tensor/dtype.js";
import {
  startEngine,
  MODE_CHOICES,
  type Engine,
  type ExecutionMode,
  type ModeChoice,
} from "./engines.js";
import { startFastest, type AutoChoice } from "./auto.js";
import type { TimingOptions } from "./latency.js";
import { expandImagePaths, loadEvalImages, type FileError } from "./images.js";
import "../models/index.js";

/** Where an ensemble's weights come from. */
export type ModelSource =
  /** A run directory of `divco train` (its best checkpoint). */
  | string
  /** A run directory and which checkpoint: best, last or epoch-NNNN. */
  | { run: string; checkpoint?: string }
  /**
   * A weights file: safetensors (divco import, or a run's checkpoint file) or an official
   * PyTorch checkpoint (`model_best.pth.tar`), for the architecture it was trained as.
   */
  | {
      weights: string;
      arch: string;
      split: number;
      dataset: DatasetKind;
      numClasses?: number;
      extra?: Record<string, unknown>;
    }
  /** Members already built and loaded; the caller keeps them (close() leaves them alone). */
  | { members: Members };

export interface EnsembleOptions {
  /** Execution mode (engines.ts), or "auto" to measure and pick. Default "sequential". */
  mode?: ModeChoice;
  /** How members are combined (REFERENCE.md §4). Default: the run's rule, else mean_logits. */
  rule?: EnsembleRule;
  /** Intra-op threads in all. Default: the process's current count. */
  threads?: number;
  /**
   * Concurrent mode: members run side by side in this many lanes, the calling thread and
   * lanes − 1 worker threads (default min(S, threads)).
   */
  lanes?: number;
  /** "cpu" (default) or "cuda:N". */
  device?: string;
  memoryFormat?: MemoryFormatName;
  /** "auto": the batch size to measure at (default 1). */
  batchSize?: number;
  /** "auto": how long to measure. */
  timing?: TimingOptions;
}

/** One image's top classes. */
export interface TopClass {
  index: number;
  /** The dataset's class name, when known. */
  name?: string;
  probability: number;
}

/** An ensemble's output for a batch. Tensors are owned by it: dispose() when done. */
export class Prediction implements Disposable {
  constructor(
    readonly rule: EnsembleRule,
    /** Every member's logits, [N, C] each. */
    readonly members: Tensor[],
    /** The ensemble's scores by `rule` (mean_logits: logits; the others: probabilities). */
    readonly scores: Tensor,
    /** The ensemble's class probabilities [N, C] (scores normalised to sum to 1). */
    readonly probabilities: Tensor,
    private readonly classNames: readonly string[] | null = null,
  ) {}

  /** The k most probable classes of each image. */
  topk(k: number): TopClass[][] {
    const [n, c] = this.probabilities.shape;
    const probs = this.probabilities.toArray();
    return Array.from({ length: n }, (_, i) =>
      topClasses(probs.slice(i * c, (i + 1) * c), k, this.classNames),
    );
  }

  dispose(): void {
    for (const t of [...this.members, this.scores, this.probabilities]) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The k most probable classes of one image's probabilities (ties: the lower index first). */
export function topClasses(
  probabilities: ArrayLike<number>,
  k: number,
  classNames: readonly string[] | null = null,
): TopClass[] {
  return Array.from(probabilities, (p, index) => ({ index, probability: p }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, Math.min(k, probabilities.length))
    .map((t) => (classNames ? { ...t, name: classNames[t.index] } : t));
}

/** One image file's prediction (or its error). */
export interface ImagePrediction {
  file: string;
  top: TopClass[];
}

/** Scores → probabilities for each rule (mean_probs and max give probabilities already). */
function probabilitiesOf(rule: EnsembleRule, scores: Tensor): Tensor {
  if (rule === "mean_logits") return softmax(scores, 1);
  return scope(() => scores.div(scores.sum(1, true)));
}

/**
 * The members a model source names, weights loaded: a run's checkpoint (with the run's ensemble
 * rule and data directory), a weights file with its architecture, or members the caller owns
 * (`owned: false`). Also what `divco export` exports.
 */
export function openMembers(source: ModelSource): {
  members: Members;
  owned: boolean;
  rule?: string;
  data?: string;
} {
  if (typeof source === "object" && "members" in source)
    return { members: source.members, owned: false };
  if (typeof source === "string" || "run" in source) {
    const run = typeof source === "string" ? source : source.run;
    const which = typeof source === "string" ? "best" : (source.checkpoint ?? "best");
    const ckpt = readRunCheckpoint(run, which);
    const members = create(ckpt.model.arch, {
      split: ckpt.model.split,
      dataset: ckpt.model.dataset,
    });
    try {
      loadMembers(members, ckpt.tensors, `${run} checkpoint ${which}`);
    } catch (e) {
      members.dispose();
      throw e;
    }
    return { members, owned: true, rule: ckpt.model.ensemble, data: ckpt.model.data };
  }
  const members = create(source.arch, {
    split: source.split,
    dataset: source.dataset,
    numClasses: source.numClasses,
    extra: source.extra,
  });
  try {
    loadMembers(members, readWeights(source.weights).tensors, source.weights);
  } catch (e) {
    members.dispose();
    throw e;
  }
  return { members, owned: true };
}

export class Ensemble {
  private closed = false;

  private constructor(
    readonly members: Members,
    private readonly engine: Engine,
    private readonly ownsMembers: boolean,
    readonly rule: EnsembleRule,
    readonly device: string,
    readonly memoryFormat: MemoryFormatName,
    /** The dataset's class names, when known. */
    readonly classNames: readonly string[] | null,
    /** What "auto" measured and picked (undefined for an explicit mode). */
    readonly auto?: AutoChoice,
  ) {}

  /**
   * Loads a model and starts its execution mode. Errors (missing checkpoint, weights that do
   * not fit, a mode this machine or model cannot run) leave nothing running.
   */
  static async load(source: ModelSource, o: EnsembleOptions = {}): Promise<Ensemble> {
    const opened = openMembers(source);
    const rule = (o.rule ?? opened.rule ?? "mean_logits") as EnsembleRule;
    if (!ENSEMBLE_RULES.includes(rule))
      throw new RangeError(`unknown ensemble rule "${rule}"; use ${ENSEMBLE_RULES.join(", ")}`);
    const mode = o.mode ?? "sequential";
    if (!MODE_CHOICES.includes(mode))
      throw new RangeError(`unknown execution mode "${mode}"; use ${MODE_CHOICES.join(", ")}`);
    const { members } = opened;
    const device = o.device ?? "cpu";
    const memoryFormat = o.memoryFormat ?? "contiguous";
    try {
      if (device !== "cpu" || memoryFormat !== "contiguous")
        members.to({ device: device as Tensor["device"], memoryFormat });
      const crop = members.options.crop;
      const engineOptions = {
        threads: o.threads ?? getNumThreads(),
        lanes: o.lanes,
        device,
        memoryFormat,
        inputShape: [3, crop, crop] as [number, number, number],
      };
      let engine: Engine;
      let auto: AutoChoice | undefined;
      if (mode === "auto") {
        ({ engine, choice: auto } = await startFastest(members, {
          ...engineOptions,
          batch: o.batchSize ?? 1,
          timing: o.timing,
        }));
      } else {
        engine = await startEngine(mode, members, engineOptions);
      }
      const names = classNamesFor(members.options.dataset, members.options.numClasses, opened.data);
      return new Ensemble(members, engine, opened.owned, rule, device, memoryFormat, names, auto);
    } catch (e) {
      if (opened.owned) members.dispose();
      throw e;
    }
  }

  get arch(): string {
    return this.members.arch;
  }
  get split(): number {
    return this.members.split;
  }
  get dataset(): DatasetKind {
    return this.members.options.dataset;
  }
  /** The input size the model was built for (ImageNet's crop; 32 on CIFAR/SVHN). */
  get crop(): number {
    return this.members.options.crop;
  }
  get numClasses(): number {
    return this.members.options.numClasses;
  }
  /** The execution mode that runs (auto's pick for "auto"). */
  get mode(): ExecutionMode {
    return this.engine.mode;
  }
  get threads(): number {
    return this.engine.threads;
  }
  /** How the mode lays the work out ("2 lanes (this thread + 1 worker) × 1 thread", …). */
  get layout(): string {
    return this.engine.layout;
  }

  /** Every member's logits [N, C] (on the CPU) for a batch N×3×H×W of normalised images. */
  async memberLogits(x: Tensor): Promise<Tensor[]> {
    if (this.closed) throw new Error("Ensemble: already closed");
    if (x.ndim !== 4 || x.shape[1] !== 3)
      throw new RangeError(`Ensemble: expected an N×3×H×W batch of images, got [${x.shape}]`);
    if (x.dtype !== "f32")
      throw new RangeError(`Ensemble: expected f32 images (normalised), got ${x.dtype}`);
    const moved =
      x.device !== this.device || this.memoryFormat !== "contiguous"
        ? x.to({ device: this.device as Tensor["device"], memoryFormat: this.memoryFormat })
        : x;
    try {
      const outs = await this.engine.run(moved);
      if (outs.every((z) => z.device === "cpu")) return outs;
      return outs.map((z) => {
        const c = z.to({ device: "cpu" });
        z.dispose();
        return c;
      });
    } finally {
      if (moved !== x) moved.dispose();
    }
  }

  /** The ensemble's prediction for a batch N×3×H×W of normalised images. */
  async predict(x: Tensor): Promise<Prediction> {
    const logits = await this.memberLogits(x);
    try {
      const { scores, probs } = inferenceMode(() =>
        scope(() => {
          const scores = ensemble(this.rule, logits);
          return { scores, probs: probabilitiesOf(this.rule, scores) };
        }),
      );
      return new Prediction(this.rule, logits, scores, probs, this.classNames);
    } catch (e) {
      for (const z of logits) z.dispose();
      throw e;
    }
  }

  /**
   * Predicts image files (and the images in directories), decoded and transformed as the
   * dataset's evaluation does (images.ts), `batchSize` at a time. Files that cannot be used
   * come back in `errors`; the others are still predicted.
   */
  async predictFiles(
    paths: readonly string[],
    o: { topk?: number; batchSize?: number } = {},
  ): Promise<{ predictions: ImagePrediction[]; errors: FileError[] }> {
    const { files, errors } = expandImagePaths(paths);
    const predictions: ImagePrediction[] = [];
    const step = o.batchSize ?? 32;
    for (let i = 0; i < files.length; i += step) {
      const batch = await loadEvalImages(files.slice(i, i + step), this.dataset, this.crop);
      errors.push(...batch.errors);
      if (batch.files.length === 0) continue;
      const x = tensor(batch.data, { shape: batch.shape });
      try {
        using p = await this.predict(x);
        p.topk(o.topk ?? 5).forEach((top, k) => predictions.push({ file: batch.files[k], top }));
      } finally {
        x.dispose();
      }
    }
    return { predictions, errors };
  }

  /** Stops the mode's workers, frees what it made, and the members when it loaded them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.engine.close();
    if (this.ownsMembers) this.members.dispose();
  }
}
