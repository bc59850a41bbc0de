#!/usr/bin/env bash
# Builds crossrank and runs the whole test suite (ctest). This is what CI runs.
# Then the CUDA build (./build-cuda) and its host tests, which need nvcc but no GPU
# (scripts/cuda_build.sh; CROSSRANK_SKIP_CUDA=1 skips it where there is no CUDA toolkit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 1200)
bash scripts/cuda_build.sh
