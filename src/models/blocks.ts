// Pieces shared by the ResNet-style families (resnet.ts, senet.ts): a Sequential whose
// children have names (PyTorch's `nn.Sequential(OrderedDict(...))`), the shortcut
// projection, the reference's weight initialisation, and the classifier head.
import { Module, Conv2d, BatchNorm2d, Linear, AvgPool2d, init, F } from "../nn/index.js";
import type { Tensor } from "../tensor/index.js";

/**
 * Runs named children in order (state-dict keys `layer0.conv1.weight`, ...). Like Sequential,
 * each intermediate is disposed once the next child consumed it; the input never is.
 */
export class NamedSequential extends Module {
  readonly layers: Module[];

  constructor(layers: [string, Module][]) {
    super();
    this.layers = layers.map(([n, m]) => this.module(n, m));
  }

  forward(x: Tensor): Tensor {
    let cur = x;
    for (const layer of this.layers) {
      const next = layer.forward(cur);
      if (cur !== x && next !== cur) cur.dispose();
      cur = next;
    }
    return cur;
  }
}

/** 3×3 convolution, padding 1, no bias (`conv3x3` of the reference's resnet.py). */
export function conv3x3(inPlanes: number, outPlanes: number, stride = 1, groups = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, groups, bias: false });
}

/** 1×1 convolution, no bias. */
export function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/**
 * The shortcut projection of a block whose shape changes (REFERENCE.md §1.3, ResNet-D):
 * stride 1 → [1×1 conv, BN]; stride 2 → [2×2 avg-pool (ceil_mode, count_include_pad=False),
 * 1×1 conv, BN]. Children are numbered like the reference's nn.Sequential, so the keys are
 * `downsample.0.weight` or `downsample.1.weight`.
 */
export function projection(inPlanes: number, outPlanes: number, stride: number): Module[] {
  if (stride === 1) return [conv1x1(inPlanes, outPlanes), new BatchNorm2d(outPlanes)];
  return [
    new AvgPool2d(2, { stride, ceilMode: true, padding: 0, countIncludePad: false }),
    conv1x1(inPlanes, outPlanes),
    new BatchNorm2d(outPlanes),
  ];
}

/**
 * The reference's initialisation (REFERENCE.md §1.3; resnet.py / senet.py `__init__`):
 * conv kaiming_normal(fan_out, relu) with bias 0, BN γ=1 β=0, Linear N(0, 1e-3²) with bias 0.
 */
export function initReference(model: Module): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "relu" });
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) init.ones_(m.weight);
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof Linear) {
      init.normal_(m.weight, 0, 1e-3);
      if (m.bias) init.zeros_(m.bias);
    }
  }
}

/** Global average pool → flatten → (dropout) → linear. Takes ownership of `features` (a stage output, never a forward input) and disposes it with its own intermediates. */
export function classify(features: Tensor, fc: Linear, dropout: Module | null): Tensor {
  const pooled = F.adaptiveAvgPool2d(features, 1);
  features.dispose();
  const flat = pooled.flatten(1);
  pooled.dispose();
  let h = flat;
  if (dropout) {
    h = dropout.forward(flat);
    if (h !== flat) flat.dispose();
  }
  const out = fc.forward(h);
  h.dispose();
  return out;
}

/** out += shortcut(x), then ReLU in place: the residual join of every ResNet/SENet block. Consumes `out`. */
export function addShortcut(out: Tensor, x: Tensor, downsample: Module | null): Tensor {
  const sc = downsample ? downsample.forward(x) : x;
  out.add_(sc);
  if (sc !== x) sc.dispose();
  return F.relu(out, true);
}
