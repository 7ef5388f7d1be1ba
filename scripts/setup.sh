#!/usr/bin/env bash
# Sets up divco on a fresh Debian 12 machine: system packages (libtorch, OpenBLAS, build tools,
# Debian's PyTorch/torchvision/Pillow for the side-by-side benchmarks and fixture scripts,
# Chromium + DejaVu fonts for the report, onnx for the export tests' checker), then `npm ci` and
# the native + TypeScript build. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential python3 pkg-config
  libtorch-dev            # libtorch 1.13 (CPU): the engine's numerics
  libgloo-dev             # headers of c10d's Gloo backend (libtorch exports it): distributed training
  libopenblas0-openmp     # BLAS for libtorch's GEMMs; the OpenMP build shares libtorch's thread pool
  libopenblas-dev
  python3-torch python3-torchvision python3-pil python3-numpy  # benchmarks' PyTorch side, fixture scripts
  fonts-dejavu-core       # the report's charts are set in DejaVu Sans (SVG, and resvg's PNGs)
  chromium                # the report's browser test (driven by playwright-core, which downloads no browser)
  python3-onnx            # onnx.checker for the ONNX export tests (test-time only)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# libtorch parallelises with OpenMP; the OpenMP OpenBLAS shares that thread pool instead of starting
# a second one on the same cores. Measured here (2 threads, 512×512 f32 matmul): 4.9 ms OpenMP vs
# 5.1 ms pthread; the conv layers go through oneDNN and do not use BLAS at all.
for alt in libblas.so.3 liblapack.so.3; do
  target=$(update-alternatives --list "$alt-x86_64-linux-gnu" 2>/dev/null | grep openblas-openmp || true)
  if [ -n "$target" ] && [ "$(id -u)" -eq 0 ]; then update-alternatives --set "$alt-x86_64-linux-gnu" "$target" >/dev/null; fi
done

# onnxruntime-node (divco export's verification) ships its CPU binaries in the npm package; its
# post-install would fetch CUDA binaries from outside the registry, which fails offline.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npm run build
echo "setup: done ($(node dist/src/cli/main.js info --json))"
