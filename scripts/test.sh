#!/usr/bin/env bash
# Builds crossrank and runs the whole test suite (ctest). This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 1200
