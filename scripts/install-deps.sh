#!/usr/bin/env bash
# Installs crossrank's build and test dependencies from Debian packages.
# Idempotent: skips apt entirely when every package is already present.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config ninja-build
  ccache               # CI builds the engine three times (CPU, Python wheel, CUDA): one compile each
  libdnnl-dev          # oneDNN: fp32/bf16/int8 GEMM (AVX-512, AMX, VNNI)
  libopenblas-dev      # BLAS fallback / comparison
  nlohmann-json3-dev   # JSON (config.json, tokenizer.json, safetensors header, HTTP bodies)
  libboost-dev         # Boost.Beast + Asio: the event-driven HTTP server (header-only)
  libcpp-httplib-dev   # HTTP client of the server tests
  libcli11-dev         # CLI parsing
  libutf8proc-dev      # Unicode normalisation / categories / graphemes
  libcurl4-openssl-dev libssl-dev  # Hugging Face Hub downloads (HTTP client, sha256 checks)
  libgtest-dev libgmock-dev  # tests
  python3 python3-venv python3-pip  # Python package + its tests, cohere SDK test (venv from PyPI)
  clang libclang-rt-dev  # libFuzzer target (tests/fuzz)
  nginx wrk curl       # scale-out test behind nginx, load test
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
