#!/usr/bin/env bash
# Installs Debian dependencies (if missing), configures and builds crossrank into ./build.
# Usage: scripts/build.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# shellcheck disable=SC2046
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release $(bash scripts/ccache_args.sh) "$@" >/dev/null
cmake --build build -j "$(nproc)"
