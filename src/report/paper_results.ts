// The paper's reported points that `divco report` draws as a reference series next to measured
// runs of the same architecture and dataset: top-1 with the paper's params/MACs (its "GFLOPs" are
// multiply-accumulates, REFERENCE.md §1.4) and the latencies read off its Fig. 3. Transcribed from
// REFERENCE.md §5 and §7; `source` names the table or figure of each number. Errors are turned
// into top-1 as 100 − error. Only architectures registered here under the same name are listed
// (the paper's "published" baselines of other implementations are left out).

/** Where a reference point comes from, as shown in the report's legend. */
export interface PaperSource {
  /** "Table II", "Table III", "Table IV", "checkpoints.md", "Fig. 3". */
  ref: string;
  /** Training length and anything else that sets this row apart (the legend shows it). */
  note: string;
}

export interface PaperPoint extends PaperSource {
  /** Registry name (`divco summary --list`). */
  arch: string;
  dataset: "cifar10" | "cifar100" | "imagenet";
  split: number;
  top1: number;
  /** Total over the S members, millions. */
  paramsM?: number;
  /** Multiply-accumulates for one image, total over the members, billions. */
  gmacs?: number;
  /** Fig. 3 only: amortised ms per image at batch 100 on V100s with AMP (REFERENCE.md §5). */
  latencyMs?: number;
}

const T2: PaperSource = { ref: "Table II", note: "300 epochs" };
const T2_LONG: PaperSource = { ref: "Table II", note: "1800 epochs" };
const T2_LONG_WD: PaperSource = { ref: "Table II", note: "1800 epochs, weight decay divided" };
const T3: PaperSource = { ref: "Table III", note: "300 epochs" };
const T3_LONG: PaperSource = { ref: "Table III", note: "1800 epochs" };
const T4: PaperSource = { ref: "Table IV", note: "120 epochs" };
const T4_320: PaperSource = { ref: "Table IV", note: "320px, 120 epochs" };
const CKPT: PaperSource = { ref: "checkpoints.md", note: "120 epochs" };
const F3: PaperSource = { ref: "Fig. 3", note: "V100, AMP, batch 100" };
const F3_320: PaperSource = { ref: "Fig. 3", note: "320px, V100, AMP, batch 100" };

/** [S, error %, MParams, GMACs] rows of one architecture in one table. */
type ErrRow = [number, number, number, number];

function fromErrors(
  arch: string,
  dataset: PaperPoint["dataset"],
  src: PaperSource,
  rows: ErrRow[],
): PaperPoint[] {
  return rows.map(([split, err, paramsM, gmacs]) => ({
    ...src,
    arch,
    dataset,
    split,
    top1: round2(100 - err),
    paramsM,
    gmacs,
  }));
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Every transcribed point. */
export const PAPER_POINTS: readonly PaperPoint[] = [
  // REFERENCE.md §7.1 — CIFAR-100, paper Table II: S=1 / S=2 / S=4 error, MParams, GFLOPs.
  ...fromErrors("resnet110", "cifar100", T2, [
    [1, 18.96, 1.17, 0.17],
    [2, 18.32, 1.33, 0.2],
    [4, 19.56, 1.21, 0.18],
  ]),
  ...fromErrors("resnet164", "cifar100", T2, [
    [1, 18.38, 1.73, 0.25],
    [2, 17.12, 1.96, 0.29],
    [4, 18.05, 1.78, 0.26],
  ]),
  ...fromErrors("se_resnet110", "cifar100", T2, [
    [1, 17.91, 1.69, 0.17],
    [2, 17.37, 1.89, 0.2],
    [4, 18.33, 1.7, 0.18],
  ]),
  ...fromErrors("se_resnet164", "cifar100", T2, [
    [1, 17.37, 2.51, 0.26],
    [2, 16.31, 2.81, 0.29],
    [4, 17.21, 2.53, 0.27],
  ]),
  ...fromErrors("efficientnetb0", "cifar100", T2, [
    [1, 18.5, 4.13, 0.23],
    [2, 18.2, 4.28, 0.24],
    [4, 17.85, 4.52, 0.3],
  ]),
  ...fromErrors("efficientnetb3", "cifar100", T2, [
    [1, 18.1, 10.9, 0.6],
    [2, 17.0, 11.1, 0.6],
    [4, 16.62, 11.7, 0.65],
  ]),
  ...fromErrors("wide_resnet16_8", "cifar100", T2, [
    [1, 18.69, 11.0, 1.55],
    [2, 17.37, 12.4, 1.75],
    [4, 17.07, 11.1, 1.58],
  ]),
  ...fromErrors("resnext29_8x64d", "cifar100", T2, [
    [1, 16.43, 34.5, 5.41],
    [2, 14.99, 35.4, 5.5],
    [4, 14.88, 36.9, 5.67],
  ]),
  ...fromErrors("wide_resnet28_10", "cifar100", T2, [
    [1, 15.5, 36.5, 5.25],
    [2, 14.48, 35.8, 5.16],
    [4, 14.26, 36.7, 5.28],
  ]),
  ...fromErrors("wide_resnet40_10", "cifar100", T2, [
    [1, 15.56, 55.9, 8.08],
    [2, 14.28, 54.8, 7.94],
    [4, 13.96, 56.0, 8.12],
  ]),
  ...fromErrors("densenet190", "cifar100", T2_LONG, [
    [1, 14.1, 25.8, 9.39],
    [2, 12.64, 25.5, 9.24],
    [4, 12.56, 26.3, 9.48],
  ]),
  ...fromErrors("pyramidnet272", "cifar100", T2_LONG, [
    [1, 11.02, 26.8, 4.55],
    [2, 10.75, 28.9, 5.24],
    [4, 10.54, 32.8, 6.33],
  ]),
  ...fromErrors("wide_resnet40_10", "cifar100", T2_LONG_WD, [
    [1, 16.02, 55.9, 8.08],
    [2, 14.09, 54.8, 7.94],
    [4, 13.1, 56.0, 8.12],
  ]),

  // REFERENCE.md §7.2 — CIFAR-10, paper Table III (weight decay divided): 300 and 1800 epochs.
  ...fromErrors("se_resnet164", "cifar10", T3, [
    [1, 2.98, 2.49, 0.26],
    [2, 2.84, 2.81, 0.29],
  ]),
  ...fromErrors("se_resnet164", "cifar10", T3_LONG, [
    [1, 2.19, 2.49, 0.26],
    [2, 2.2, 2.81, 0.29],
  ]),
  ...fromErrors("resnext29_8x64d", "cifar10", T3, [
    [1, 2.69, 34.4, 5.4],
    [2, 2.12, 35.1, 5.49],
  ]),
  ...fromErrors("resnext29_8x64d", "cifar10", T3_LONG, [
    [1, 2.23, 34.4, 5.4],
    [2, 1.94, 35.1, 5.49],
  ]),
  ...fromErrors("wide_resnet28_10", "cifar10", T3, [
    [1, 2.28, 36.5, 5.25],
    [2, 2.06, 35.8, 5.16],
    [4, 2.01, 36.5, 5.28],
  ]),
  ...fromErrors("wide_resnet28_10", "cifar10", T3_LONG, [
    [1, 2.41, 36.5, 5.25],
    [2, 1.81, 35.8, 5.16],
    [4, 1.68, 36.5, 5.28],
  ]),
  ...fromErrors("wide_resnet40_10", "cifar10", T3, [
    [1, 2.33, 55.8, 8.08],
    [4, 2.01, 55.9, 8.12],
  ]),
  ...fromErrors("wide_resnet40_10", "cifar10", T3_LONG, [
    [1, 2.19, 55.8, 8.08],
    [4, 1.62, 55.9, 8.12],
  ]),
  ...fromErrors("shake_resnet26_2x96d", "cifar10", T3_LONG, [
    [1, 2.0, 26.2, 3.78],
    [2, 1.75, 23.3, 3.38],
    [4, 1.69, 26.3, 3.82],
  ]),

  // REFERENCE.md §7.3 — ImageNet-1k single crop, paper Table IV (top-1, MParams, GFLOPs).
  {
    ...T4,
    arch: "wide_resnet50_2",
    dataset: "imagenet",
    split: 1,
    top1: 80.66,
    paramsM: 68.9,
    gmacs: 12.8,
  },
  {
    ...T4,
    arch: "wide_resnet50_2",
    dataset: "imagenet",
    split: 2,
    top1: 79.64,
    paramsM: 51.4,
    gmacs: 10.9,
  },
  {
    ...T4,
    arch: "wide_resnet50_3",
    dataset: "imagenet",
    split: 1,
    top1: 80.74,
    paramsM: 135.0,
    gmacs: 23.8,
  },
  {
    ...T4,
    arch: "wide_resnet50_3",
    dataset: "imagenet",
    split: 2,
    top1: 81.42,
    paramsM: 138.0,
    gmacs: 25.6,
  },
  {
    ...T4,
    arch: "resnext101_64x4d",
    dataset: "imagenet",
    split: 1,
    top1: 81.57,
    paramsM: 83.6,
    gmacs: 16.9,
  },
  {
    ...T4,
    arch: "resnext101_64x4d",
    dataset: "imagenet",
    split: 2,
    top1: 82.13,
    paramsM: 88.6,
    gmacs: 18.8,
  },
  {
    ...T4_320,
    arch: "efficientnetb7",
    dataset: "imagenet",
    split: 1,
    top1: 81.83,
    paramsM: 66.7,
    gmacs: 10.6,
  },
  {
    ...T4_320,
    arch: "efficientnetb7",
    dataset: "imagenet",
    split: 2,
    top1: 82.74,
    paramsM: 68.2,
    gmacs: 10.5,
  },
  {
    ...T4_320,
    arch: "efficientnetb7",
    dataset: "imagenet",
    split: 4,
    top1: 82.75,
    paramsM: 70.9,
    gmacs: 12.6,
  },
  // REFERENCE.md §7.3 — single-model re-implementations listed in the official checkpoints.md.
  {
    ...CKPT,
    arch: "resnet50",
    dataset: "imagenet",
    split: 1,
    top1: 78.84,
    paramsM: 25.7,
    gmacs: 5.5,
  },
  {
    ...CKPT,
    arch: "resnet101",
    dataset: "imagenet",
    split: 1,
    top1: 80.16,
    paramsM: 44.8,
    gmacs: 9.2,
  },

  // REFERENCE.md §5 — paper Fig. 3: top-1 against amortised latency per image (±0.05 ms read off
  // the figure; S=2 runs its two members on two GPUs).
  { ...F3, arch: "resnet101", dataset: "imagenet", split: 1, top1: 80.16, latencyMs: 1.19 },
  { ...F3, arch: "wide_resnet50_2", dataset: "imagenet", split: 1, top1: 80.66, latencyMs: 1.21 },
  { ...F3, arch: "wide_resnet50_2", dataset: "imagenet", split: 2, top1: 79.64, latencyMs: 1.19 },
  { ...F3, arch: "wide_resnet50_3", dataset: "imagenet", split: 1, top1: 80.74, latencyMs: 1.28 },
  { ...F3, arch: "wide_resnet50_3", dataset: "imagenet", split: 2, top1: 81.42, latencyMs: 1.25 },
  { ...F3, arch: "resnext101_64x4d", dataset: "imagenet", split: 1, top1: 81.57, latencyMs: 1.82 },
  { ...F3, arch: "resnext101_64x4d", dataset: "imagenet", split: 2, top1: 82.13, latencyMs: 1.45 },
  {
    ...F3_320,
    arch: "efficientnetb7",
    dataset: "imagenet",
    split: 1,
    top1: 81.83,
    latencyMs: 4.13,
  },
  {
    ...F3_320,
    arch: "efficientnetb7",
    dataset: "imagenet",
    split: 2,
    top1: 82.74,
    latencyMs: 4.53,
  },
];

/** The reference points for an architecture on a dataset (none when the paper has no such row). */
export function paperPoints(arch: string, dataset: string): PaperPoint[] {
  return PAPER_POINTS.filter((p) => p.arch === arch && p.dataset === dataset);
}
