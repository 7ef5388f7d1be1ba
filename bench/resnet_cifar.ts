// The benchmark network: the CIFAR ResNet of He et al. 2016 (basic blocks, widths 16/32/64,
// depth 6n+2, option-A shortcuts: stride-2 subsampling with zero-padded channels). Written
// with divco's layers the way a user would, and mirrored line for line in engine_torch.py.
import { Module, Conv2d, BatchNorm2d, Linear, Sequential, F, init } from "../src/nn/index.js";
import type { Tensor } from "../src/tensor/index.js";

class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly padChannels: number;

  constructor(
    inPlanes: number,
    planes: number,
    readonly stride: number,
  ) {
    super();
    this.conv1 = this.module(
      "conv1",
      new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }),
    );
    this.bn1 = this.module("bn1", new BatchNorm2d(planes));
    this.conv2 = this.module("conv2", new Conv2d(planes, planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.module("bn2", new BatchNorm2d(planes));
    this.padChannels = planes - inPlanes;
  }

  private shortcut(x: Tensor): Tensor {
    if (this.stride === 1 && this.padChannels === 0) return x;
    const sub = x.slice(2, 0, undefined, 2).slice(3, 0, undefined, 2);
    const half = this.padChannels / 2;
    const out = F.pad(sub, [0, 0, 0, 0, half, half]);
    sub.dispose();
    return out;
  }

  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const b = F.relu(this.bn1.forward(a), true);
    a.dispose();
    const c = this.conv2.forward(b);
    b.dispose();
    const out = this.bn2.forward(c);
    c.dispose();
    const sc = this.shortcut(x);
    out.add_(sc);
    if (sc !== x) sc.dispose();
    return F.relu(out, true);
  }
}

export class CifarResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly fc: Linear;

  constructor(n: number, numClasses = 10) {
    super();
    this.conv1 = this.module("conv1", new Conv2d(3, 16, 3, { padding: 1, bias: false }));
    this.bn1 = this.module("bn1", new BatchNorm2d(16));
    const stage = (inPlanes: number, planes: number, stride: number) =>
      new Sequential(
        ...Array.from(
          { length: n },
          (_, i) => new BasicBlock(i === 0 ? inPlanes : planes, planes, i === 0 ? stride : 1),
        ),
      );
    this.layer1 = this.module("layer1", stage(16, 16, 1));
    this.layer2 = this.module("layer2", stage(16, 32, 2));
    this.layer3 = this.module("layer3", stage(32, 64, 2));
    this.fc = this.module("fc", new Linear(64, numClasses));
    for (const [, m] of this.namedModules())
      if (m instanceof Conv2d)
        init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "relu" });
  }

  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    let h = F.relu(this.bn1.forward(a), true);
    a.dispose();
    for (const layer of [this.layer1, this.layer2, this.layer3]) {
      const next = layer.forward(h);
      h.dispose();
      h = next;
    }
    const pooled = F.adaptiveAvgPool2d(h, 1);
    h.dispose();
    const flat = pooled.flatten(1);
    pooled.dispose();
    const out = this.fc.forward(flat);
    flat.dispose();
    return out;
  }
}
