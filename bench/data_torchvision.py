#!/usr/bin/python3
"""torchvision side of bench/data.ts: the reference's CIFAR-10 training
pipeline (RandomCrop(32, 4) -> RandomHorizontalFlip -> AutoAugment CIFAR-10
policy (DeepVoltaire, fill 128) -> ToTensor -> Normalize -> RandomErasing
(0.5, (0.125, 0.2), (0.99, 1), value 0)), applied S times per image and
collated into batches of 128, in ONE process and thread.

AutoAugment is torchvision's own CIFAR10 policy (same sub-policies and
Pillow calls as DeepVoltaire's; only its magnitude bins differ slightly),
so the Pillow work per image is the same.

Prints one JSON object: {"views_per_s": ..., "views": S, "images": N, "seconds": T}.
Usage: /usr/bin/python3 bench/data_torchvision.py --views S [--images N] [--sample DIR]
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

torch.set_num_threads(1)
p = argparse.ArgumentParser()
p.add_argument("--views", type=int, default=1)
p.add_argument("--images", type=int, default=2000)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--sample", default=os.path.join(os.path.dirname(__file__), "..", "data", "cifar10-sample"))
args = p.parse_args()

raw = b"".join(open(os.path.join(args.sample, f), "rb").read() for f in ("train_1.bin", "train_2.bin"))
recs = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
images = recs[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()

tf = transforms.Compose([
    transforms.RandomCrop(32, padding=4),
    transforms.RandomHorizontalFlip(),
    transforms.AutoAugment(transforms.AutoAugmentPolicy.CIFAR10, fill=[128, 128, 128]),
    transforms.ToTensor(),
    transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    transforms.RandomErasing(p=0.5, scale=(0.125, 0.2), ratio=(0.99, 1.0), value=0),
])

torch.manual_seed(0)
n = args.images
# warm-up
for i in range(64):
    tf(Image.fromarray(images[i % len(images)]))
t0 = time.perf_counter()
done = 0
while done < n:
    b = min(args.batch, n - done)
    samples = []
    for k in range(b):
        img = Image.fromarray(images[(done + k) % len(images)])
        samples.append(torch.cat([tf(img) for _ in range(args.views)], dim=0))
    batch = torch.stack(samples)
    done += b
dt = time.perf_counter() - t0
print(json.dumps({"views_per_s": n * args.views / dt, "views": args.views, "images": n, "seconds": dt}))
