// One test parametrised over EVERY registered architecture × S ∈ {1, 2, 4} (where allowed):
// it builds, runs forward + backward on one tiny image, and its params / MACs equal the
// reference numbers where REFERENCE.md gives them. Models are freed after each case.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, list, type DatasetKind } from "../../src/models/index.js";
import { countModule } from "../../src/report/accounting.js";
import { randn, noGrad } from "../../src/tensor/index.js";

interface Expected {
  dataset: DatasetKind;
  crop?: number;
  /** Trainable params, millions, total over S members; with the digits printed in the source. */
  params?: Record<number, number>;
  /** GMACs (the tables' "GFLOPs"), total over S members, compared with summary.py's flops(M). */
  gmacs?: Record<number, number>;
  /** Where the numbers come from. */
  source: string;
}

// Reference numbers. §1.4 params are exact re-derivations (two decimals, asserted to 0.5%).
// §7 table numbers are the paper's (2–3 significant digits): asserted to within 0.5% or half a
// unit of the last printed digit, whichever is larger. Paper numbers the reference code at HEAD
// does NOT reproduce are listed in KNOWN_DEVIATIONS below instead of being asserted.
const EXPECTED: Record<string, Expected> = {
  resnet110: {
    dataset: "cifar100",
    params: { 1: 1.17, 2: 1.33, 4: 1.21 },
    gmacs: { 1: 0.17 },
    source: "§1.4 params; §7.1 GFLOPs",
  },
  resnet164: {
    dataset: "cifar100",
    params: { 1: 1.73, 2: 1.96, 4: 1.78 },
    gmacs: { 1: 0.25 },
    source: "§1.4 params; §7.1 GFLOPs",
  },
  se_resnet110: { dataset: "cifar100", params: { 1: 1.69 }, gmacs: { 1: 0.17 }, source: "§7.1" },
  se_resnet164: { dataset: "cifar100", params: { 1: 2.51 }, source: "§7.1" },
  wide_resnet16_8: {
    dataset: "cifar100",
    params: { 1: 11.01, 2: 12.42, 4: 11.09 },
    gmacs: { 1: 1.55, 2: 1.75 },
    source: "§1.4 params; §7.1 GFLOPs",
  },
  wide_resnet28_10: {
    dataset: "cifar100",
    params: { 1: 36.54, 2: 35.86, 4: 36.65 },
    gmacs: { 1: 5.25, 2: 5.16, 4: 5.28 },
    source: "§1.4 params; §7.1 GFLOPs",
  },
  wide_resnet40_10: {
    dataset: "cifar100",
    params: { 1: 55.9, 2: 54.83, 4: 56.02 },
    gmacs: { 1: 8.08, 2: 7.94, 4: 8.12 },
    source: "§1.4 params; §7.1 GFLOPs",
  },
  resnext29_8x64d: {
    dataset: "cifar100",
    params: { 1: 34.52, 2: 35.31, 4: 36.89 },
    gmacs: { 1: 5.41, 2: 5.5, 4: 5.67 },
    source: "§1.4 params; §7.1 GFLOPs",
  },
  resnet50: {
    dataset: "imagenet",
    params: { 1: 25.68, 2: 25.18, 4: 27.79 },
    gmacs: { 1: 5.5 },
    source: "§1.4 params; §7.3 GFLOPs",
  },
  resnet101: {
    dataset: "imagenet",
    params: { 1: 44.8 },
    gmacs: { 1: 9.2 },
    source: "§7.3 (checkpoints.md; params incl. BN statistics there, ±0.1M per §1.4)",
  },
  se_resnet50: {
    dataset: "imagenet",
    params: { 1: 28.2 },
    gmacs: { 1: 4.9 },
    source: "§7.3 (checkpoints.md)",
  },
  wide_resnet50_2: {
    dataset: "imagenet",
    params: { 1: 69.01, 2: 51.36 },
    gmacs: { 1: 12.8, 2: 10.9 },
    source: "§1.4 params; §7.3 GFLOPs",
  },
  wide_resnet50_3: {
    dataset: "imagenet",
    params: { 1: 134.98, 2: 138.02 },
    gmacs: { 1: 23.8, 2: 25.6 },
    source: "§1.4 params; §7.3 GFLOPs",
  },
  resnext101_64x4d: {
    dataset: "imagenet",
    params: { 1: 83.59, 2: 88.61, 4: 98.65 },
    gmacs: { 1: 16.9 },
    source: "§1.4 params; §7.3 GFLOPs",
  },
  se_resnext101_64x4d: { dataset: "imagenet", params: { 2: 98.0 }, source: "§7.3" },
  se_resnet50_B: {
    dataset: "imagenet",
    params: { 1: 28.2 },
    source: "§7.3 SE-ResNet-50 (checkpoints.md); DropBlock has no parameters",
  },
  // Published counts of the undivided networks (the reference's Table IV baselines, §7.3):
  // timm's model cards for the TensorFlow / ResNeSt authors' weights.
  efficientnetb8: {
    dataset: "imagenet",
    params: { 1: 87.4 },
    source: "timm tf_efficientnet_b8.ra_in1k model card: 87.4M",
  },
  efficientnetl2: {
    dataset: "imagenet",
    params: { 1: 480.3 },
    source: "timm tf_efficientnet_l2.ns_jft_in1k model card: 480.3M",
  },
  resnest101: { dataset: "imagenet", params: { 1: 48 }, source: "timm resnest101e: 48M" },
  resnest200: {
    dataset: "imagenet",
    params: { 1: 70.2 },
    source: "timm resnest200e.in1k: 70.2M",
  },
  resnest269: { dataset: "imagenet", params: { 1: 111 }, source: "timm resnest269e: 111M" },
};

/**
 * Paper numbers not reproduced by the reference code at HEAD (whose params DO match §1.4):
 * - §7.1 GFLOPs of the narrow CIFAR nets at S>1: ResNet-110 0.20/0.18 (summary.py: 0.190/0.170),
 *   ResNet-164 0.29/0.26 (0.281/0.251), SE-ResNet-110 0.20/0.18 (0.191/0.171), SE-ResNet-164
 *   0.26/0.29/0.27 (0.250/0.282/0.252), WRN-16-8 S=4 1.58 (1.572). The gap grows as members get
 *   narrower, as it would if element-wise ops were counted too; wide nets agree to 0.5%.
 * - §7.1 params of SE-ResNet-110/164 at S=2/4: 1.89/1.70 and 2.81/2.53 vs 1.92/1.74 and 2.85/2.57
 *   from senet.py (an analytic count agrees with divco; S=1 matches).
 * - §7.3 SE-ResNeXt-101 64x4d S=2 at 320px: 38.2 GFLOPs vs 35.97 (params 98.0 match).
 * - §7.3 ResNeXt-101 64x4d S=2: 18.8 GFLOPs vs 18.70 (0.51%, just outside the tolerance).
 */
export const KNOWN_DEVIATIONS = [
  "resnet110",
  "resnet164",
  "se_resnet110",
  "se_resnet164",
  "wide_resnet16_8",
  "se_resnext101_64x4d",
  "resnext101_64x4d",
];

function tolerance(ref: number): number {
  const s = String(ref);
  const decimals = s.includes(".") ? s.split(".")[1].length : 0;
  return Math.max(0.005 * ref, 0.5 * 10 ** -decimals);
}

const SPLITS = [1, 2, 4];
/** Members bigger than this skip backward (time, memory); forward still runs. */
const BACKWARD_MAX_PARAMS = 30e6;

for (const arch of list()) {
  for (const split of SPLITS.filter((s) => arch.splits.includes(s))) {
    const exp = EXPECTED[arch.name];
    const dataset: DatasetKind =
      exp?.dataset ?? (arch.datasets.includes("cifar100") ? "cifar100" : arch.datasets[0]);
    test(`${arch.name} S=${split} (${dataset}): builds, forward/backward, params/MACs`, () => {
      const members = create(arch.name, { split, dataset, crop: exp?.crop });
      try {
        assert.equal(members.split, split);
        const keys = [...members.stateDict().keys()];
        for (let i = 0; i < split; i++)
          assert.ok(
            keys.some((k) => k.startsWith(`models.${i}.`)),
            `member ${i} keys`,
          );
        const imagenet = dataset === "imagenet";
        const wantMacs = exp?.gmacs?.[split];
        // MACs at the real crop where a reference is given; otherwise a quick count at a small
        // size (CIFAR 16, ImageNet 64) that still runs every layer once.
        const crop = wantMacs !== undefined ? members.options.crop : imagenet ? 64 : 16;
        // Members share one architecture (only their initialisation differs): count member 0.
        const one = countModule(members.models.items[0], { crop });
        const total = {
          params: one.params * split,
          macs: one.macs * split,
          summaryParams: one.summaryParams * split,
          summaryFlops: one.summaryFlops * split,
        };
        assert.ok(total.macs > 0);
        assert.equal(total.params, members.numParameters());
        const wantParams = exp?.params?.[split];
        if (wantParams !== undefined) {
          const got = total.params / 1e6;
          assert.ok(
            Math.abs(got - wantParams) <= tolerance(wantParams) ||
              Math.abs(total.summaryParams / 1e6 - wantParams) <= tolerance(wantParams),
            `params ${got.toFixed(3)}M vs ${wantParams}M (${exp!.source})`,
          );
        }
        if (wantMacs !== undefined) {
          const got = total.summaryFlops / 1e9;
          assert.ok(
            Math.abs(got - wantMacs) <= tolerance(wantMacs),
            `GMACs ${got.toFixed(3)} vs ${wantMacs} (${exp!.source})`,
          );
        }
        // Forward + backward of member 0 on one image: CIFAR 32×32 at S=1 and 16×16 for the
        // narrower S>1 members (same code path, a quarter of the time); ImageNet 64×64 (every
        // stage keeps ≥ 2×2 for train-mode BN). Members too big for a quick backward run forward only.
        const size = imagenet ? 64 : split === 1 ? 32 : 16;
        const member = members.models.items[0];
        const x = randn([1, 3, size, size]);
        if (one.params <= BACKWARD_MAX_PARAMS) {
          member.train();
          const out = member.forward(x);
          assert.deepEqual(out.shape, [1, members.options.numClasses]);
          const loss = out.sum();
          loss.backward();
          out.dispose();
          loss.dispose();
          const g = member.parameters()[0].grad;
          assert.ok(g !== undefined, "first parameter has a gradient");
          const finite = g!.isfinite();
          const all = finite.all();
          assert.ok(all.item(), "finite gradient");
          for (const t of [finite, all]) t.dispose();
        } else {
          member.eval();
          noGrad(() => {
            const out = member.forward(x);
            assert.deepEqual(out.shape, [1, members.options.numClasses]);
            out.dispose();
          });
        }
        x.dispose();
      } finally {
        members.dispose();
      }
    });
  }
}
