#!/usr/bin/env bash
# The fixed short CIFAR-10 recipe of issue #5 (docs/results.md): resnet29 (the reference's CIFAR
# bottleneck ResNet, n=3; base width 16 for S=1, 12 for S=2 by REFERENCE.md §1.2), S ∈ {1, 2},
# seeds 0 and 1, exactly 5 epochs, batch 128, the reference CIFAR-10 augmentation (§6.2: pad-4 crop,
# flip, AutoAugment CIFAR-10, random erasing p=0.5 scale (0.125, 0.2) ratio (0.99, 1), mixup 0.2),
# SGD Nesterov 0.9, lr 0.1 with a one-epoch per-iteration warm-up from 5e-3 then cosine to 1e-4,
# weight decay 1e-4·exp(1/S−1) grouped by name, JS co-training loss with weight 0.5 warmed up over
# 2 epochs (floor 0.005). Every epoch's checkpoint is kept so each can also be evaluated on the
# bit-exact test records 0–999.
#
# Usage: DATA=/path/to/cifar-10-batches-bin bash scripts/reproduce_cifar10_short.sh [runs-dir]
# Safe to run again: finished runs are skipped and interrupted ones resume bit-exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATA:?set DATA to a CIFAR-10 binary directory (divco data get cifar10 prints where it puts one)}"
RUNS=${1:-runs/cifar10-short}
DIVCO="node dist/src/cli/main.js"

for seed in 0 1; do
  for S in 1 2; do
    dir="$RUNS/resnet29-S$S-seed$seed"
    if [ -f "$dir/checkpoints/epoch-0005.safetensors" ]; then
      echo "done: $dir"
    elif [ -f "$dir/config.json" ]; then
      $DIVCO train --resume "$dir"
    else
      $DIVCO train --arch resnet29 --split "$S" --dataset cifar10 --data "$DATA" --run-dir "$dir" \
        --seed "$seed" --epochs 5 --batch-size 128 --eval-batch-size 200 \
        --lr 0.1 --lr-mode cos --warmup-epochs 1 --warmup-start-lr 5e-3 --end-lr 1e-4 \
        --momentum 0.9 --nesterov --weight-decay 1e-4 --divide-weight-decay --decay-grouping reference \
        --autoaugment --cutout --erase-p 0.5 --mixup-alpha 0.2 --label-smoothing 0 \
        --cot-loss js_divergence --cot-weight 0.5 --cot-warmup-epochs 2 --keep-last 5 --workers 1
    fi
    # The bit-exact subset (records 0–999) for every epoch.
    for e in 1 2 3 4 5; do
      ck=$(printf "epoch-%04d" "$e")
      out="$dir/eval-records0-999-$ck.json"
      [ -f "$out" ] || $DIVCO eval --run "$dir" --checkpoint "$ck" --eval-limit 1000 --json > "$out"
    done
  done
done
