"""PyTorch side of `npm run bench:train`: the same co-training step as bench/train.ts — S members
of the reference's CIFAR bottleneck ResNet (REFERENCE.md §1.2–1.3), one view per member, mixup
soft targets, Σ CE + 0.5·JS (the reference's formula), SGD Nesterov with the reference's
weight-decay groups — timed the same way. Prints one JSON object.

--concurrent runs the members' forward and backward on Python threads (PyTorch releases the
GIL inside kernels), each with threads/W intra-op threads, as divco's concurrent members do:
the loss is computed on detached logits and its gradient sent back through each member."""
import argparse
import json
from concurrent.futures import ThreadPoolExecutor
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = {1: 16, 2: 12, 4: 8, 8: 6, 16: 4}  # §1.2 CIFAR ResNet base width per S


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride != 1:
            self.downsample = nn.Sequential(nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False),
                                            nn.Conv2d(cin, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))
        elif cin != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


class CifarResNet(nn.Module):
    def __init__(self, n, width, num_classes=10):
        super().__init__()
        self.layer0 = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        cin, stages = width, []
        for i, stride in enumerate([1, 2, 2]):
            planes = width * 2 ** i
            blocks = []
            for b in range(n):
                blocks.append(Bottleneck(cin, planes, stride if b == 0 else 1))
                cin = planes * 4
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.layer0(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def js(outputs):
    """The reference's generalised JS divergence (model/splitnet.py)."""
    outputs_all = torch.stack(outputs, dim=0)
    p_all = F.softmax(outputs_all, dim=-1)
    p_mean = torch.mean(p_all, dim=0)
    H_mean = (-p_mean * torch.log(p_mean)).sum(-1).mean()
    H_sep = (-p_all * F.log_softmax(outputs_all, dim=-1)).sum(-1).mean()
    return H_mean - H_sep


def measure(S, n, batch, warmup, steps, channels_last, concurrent=False, threads=2):
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    models = nn.ModuleList([CifarResNet(n, WIDTHS[S]) for _ in range(S)]).to(memory_format=fmt)
    decay, no_decay = [], []
    for name, p in models.named_parameters():
        (no_decay if ("bias" in name or "norm" in name) else decay).append(p)
    wd = 1e-4 * math.exp(1 / S - 1) if S > 1 else 1e-4
    opt = torch.optim.SGD([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0}],
                          lr=0.1, momentum=0.9, nesterov=True, foreach=True)
    views = [torch.randn(batch, 3, 32, 32).to(memory_format=fmt) for _ in range(S)]
    y = torch.randint(0, 10, (batch,))
    perm = torch.randperm(batch)
    lam = 0.7
    target = lam * F.one_hot(y, 10).float() + (1 - lam) * F.one_hot(y[perm], 10).float()

    def sequential_step():
        outputs = [m(v) for m, v in zip(models, views)]
        loss = sum(F.cross_entropy(o, target) for o in outputs)
        if S > 1:
            loss = loss + 0.5 * js(outputs)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    step = sequential_step
    if concurrent:
        workers = min(S, threads)
        each = max(1, threads // workers)
        # One pool thread per worker; member i runs on thread i mod workers.
        pools = [ThreadPoolExecutor(1, initializer=torch.set_num_threads, initargs=(each,)) for _ in range(workers)]
        groups = [[i for i in range(S) if i % workers == w] for w in range(workers)]

        def forward(ids):
            return [models[i](views[i]) for i in ids]

        def backward(outs, grads):
            for o, g in zip(outs, grads):
                o.backward(g)

        def concurrent_step():
            futures = [pool.submit(forward, ids) for pool, ids in zip(pools, groups)]
            per_group = [f.result() for f in futures]
            outputs = [None] * S
            for ids, outs in zip(groups, per_group):
                for i, o in zip(ids, outs):
                    outputs[i] = o
            z = [o.detach().requires_grad_() for o in outputs]
            loss = sum(F.cross_entropy(o, target) for o in z) + 0.5 * js(z)
            loss.backward()
            done = [pool.submit(backward, outs, [z[i].grad for i in ids]) for pool, ids, outs in zip(pools, groups, per_group)]
            for f in done:
                f.result()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss.item()

        step = concurrent_step

    models.train()
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--split", type=int, default=1)
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--format", choices=["channels_last", "contiguous"], default="contiguous")
    p.add_argument("--concurrent", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.concurrent and a.split < 2:
        p.error("--concurrent needs --split 2 or more")
    r = measure(a.split, a.n, a.batch, a.warmup, a.steps, a.format == "channels_last", a.concurrent, a.threads)
    print(json.dumps({"train_img_s": r, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
